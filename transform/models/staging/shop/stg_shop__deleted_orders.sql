-- Orders deleted in the shop (their latest change in the LOG_BASED stream is a delete),
-- gone from stg_shop__orders; their history stays in bronze. Empty for a lake read
-- without change capture.
with source as (
    {{ deleted_keys(source('shop', 'orders'), 'order_id') }}
)

select
    cast(order_id as integer) as order_id,
    _sdc_deleted_at as deleted_at
from source

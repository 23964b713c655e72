with items as (
    select * from {{ ref('stg_shop__order_items') }}
),

orders as (
    select order_id, ordered_at, order_status from {{ ref('stg_shop__orders') }}
)

select
    {{ surrogate_key(['items.order_item_id']) }} as order_item_key,
    {{ surrogate_key(['items.order_id']) }} as order_key,
    {{ surrogate_key(['items.product_id']) }} as product_key,
    {{ surrogate_key([utc_date('orders.ordered_at')]) }} as order_date_key,
    items.order_item_id,
    items.order_id,
    items.product_id,
    orders.order_status,
    items.quantity,
    items.unit_price,
    items.discount_pct,
    items.line_total
from items
inner join orders using (order_id)

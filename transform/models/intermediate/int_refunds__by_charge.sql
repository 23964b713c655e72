-- Succeeded refunds per Stripe charge (one row per refunded charge).
select
    charge_id,
    sum(amount) as refunded_amount,
    count(*) as refund_count
from {{ ref('stg_stripe__refunds') }}
where refund_status = 'succeeded'
group by charge_id

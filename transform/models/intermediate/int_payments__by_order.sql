-- Stripe payments per shop order (metadata.order_id): the charges of
-- int_payments__by_charge summed, so the net-paid rule is written once.
select
    order_id,
    count(*) as charge_count,
    sum(case when is_captured then amount end) as captured_amount,
    sum(refunded_amount) as refunded_amount,
    sum(net_amount) as net_paid_amount,
    sum(refund_count) as refund_count
from {{ ref('int_payments__by_charge') }}
where order_id is not null
group by order_id

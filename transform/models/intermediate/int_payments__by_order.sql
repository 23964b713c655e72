-- Stripe charges net of refunds, matched to shop orders through metadata.order_id.
with charges as (
    select * from {{ ref('stg_stripe__charges') }}
),

refunds as (
    select * from {{ ref('int_refunds__by_charge') }}
)

select
    charges.order_id,
    count(*) as charge_count,
    sum(charges.amount) filter (where charges.charge_status = 'succeeded') as captured_amount,
    coalesce(sum(refunds.refunded_amount), 0) as refunded_amount,
    coalesce(sum(charges.amount) filter (where charges.charge_status = 'succeeded'), 0)
        - coalesce(sum(refunds.refunded_amount), 0) as net_paid_amount,
    coalesce(sum(refunds.refund_count), 0) as refund_count
from charges
left join refunds using (charge_id)
where charges.order_id is not null
group by charges.order_id

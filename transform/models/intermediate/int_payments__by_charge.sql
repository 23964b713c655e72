-- One row per Stripe charge with its succeeded refunds, and the one net-paid rule of the
-- project: a succeeded charge nets its amount less its refunds; a charge that did not
-- succeed captured nothing and nets 0 (a refund recorded against it nets nothing either).
-- fct_payments shows these rows and int_payments__by_order sums them per order.
with charges as (
    select * from {{ ref('stg_stripe__charges') }}
),

refunds as (
    select * from {{ ref('int_refunds__by_charge') }}
)

select
    charges.charge_id,
    charges.order_id,
    charges.currency,
    charges.charge_status,
    charges.amount,
    charges.charge_status = 'succeeded' as is_captured,
    coalesce(refunds.refunded_amount, 0) as refunded_amount,
    case when charges.charge_status = 'succeeded'
        then charges.amount - coalesce(refunds.refunded_amount, 0) else 0 end as net_amount,
    coalesce(refunds.refund_count, 0) as refund_count,
    charges.created_at
from charges
left join refunds using (charge_id)

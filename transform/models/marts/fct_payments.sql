-- One row per Stripe charge, with its refunds netted and its shop order attached.
with charges as (
    select * from {{ ref('stg_stripe__charges') }}
),

refunds as (
    select * from {{ ref('int_refunds__by_charge') }}
),

orders as (
    select order_id, customer_id from {{ ref('stg_shop__orders') }}
)

select
    {{ surrogate_key(['charges.charge_id']) }} as payment_key,
    {{ surrogate_key(['charges.order_id']) }} as order_key,
    {{ surrogate_key(['orders.customer_id']) }} as customer_key,
    {{ surrogate_key(['cast(charges.created_at as date)']) }} as payment_date_key,
    charges.charge_id,
    charges.order_id,
    charges.currency,
    charges.charge_status,
    charges.amount,
    coalesce(refunds.refunded_amount, 0) as refunded_amount,
    case when charges.charge_status = 'succeeded'
        then charges.amount - coalesce(refunds.refunded_amount, 0) else 0 end as net_amount,
    coalesce(refunds.refund_count, 0) as refund_count,
    charges.created_at
from charges
left join refunds using (charge_id)
left join orders using (order_id)

-- One row per Stripe charge, with its refunds netted (int_payments__by_charge holds the
-- rule) and its shop order attached. A charge stays when its order is deleted in the
-- shop (the money moved all the same): is_order_deleted, and no customer. A charge whose
-- order the lake never saw (deleted before the shop's snapshot: a new environment or a
-- rebuilt lake over a shop with deletions) stays too: is_order_unknown.
with charges as (
    select * from {{ ref('int_payments__by_charge') }}
),

orders as (
    select order_id, customer_id from {{ ref('stg_shop__orders') }}
),

deleted_orders as (
    select order_id from {{ ref('stg_shop__deleted_orders') }}
)

select
    {{ surrogate_key(['charges.charge_id']) }} as payment_key,
    {{ surrogate_key(['charges.order_id']) }} as order_key,
    {{ surrogate_key(['orders.customer_id']) }} as customer_key,
    {{ surrogate_key([utc_date('charges.created_at')]) }} as payment_date_key,
    charges.charge_id,
    charges.order_id,
    charges.currency,
    charges.charge_status,
    charges.amount,
    charges.refunded_amount,
    charges.net_amount,
    charges.refund_count,
    deleted_orders.order_id is not null as is_order_deleted,
    charges.order_id is not null
        and orders.order_id is null
        and deleted_orders.order_id is null as is_order_unknown,
    charges.created_at
from charges
left join orders using (order_id)
left join deleted_orders using (order_id)

with orders as (
    select * from {{ ref('int_orders__enriched') }}
),

payments as (
    select * from {{ ref('int_payments__by_order') }}
)

select
    {{ surrogate_key(['orders.order_id']) }} as order_key,
    {{ surrogate_key(['orders.customer_id']) }} as customer_key,
    {{ surrogate_key([utc_date('orders.ordered_at')]) }} as order_date_key,
    orders.order_id,
    orders.customer_id,
    orders.ordered_at,
    orders.order_status,
    orders.total_amount,
    orders.items_total,
    orders.total_amount - orders.items_total as total_minus_items,
    orders.item_count,
    orders.unit_count,
    coalesce(payments.captured_amount, 0) as captured_amount,
    coalesce(payments.refunded_amount, 0) as refunded_amount,
    coalesce(payments.net_paid_amount, 0) as net_paid_amount,
    coalesce(payments.charge_count, 0) as charge_count,
    payments.order_id is not null as has_payment,
    orders.shipping_state_code,
    orders.shipping_country_code,
    orders.updated_at
from orders
left join payments using (order_id)

-- Orders with their item totals and customer attributes; one row per order.
with orders as (
    select * from {{ ref('stg_shop__orders') }}
),

items as (
    select
        order_id,
        count(*) as item_count,
        sum(quantity) as unit_count,
        sum(line_total) as items_total
    from {{ ref('stg_shop__order_items') }}
    group by order_id
),

customers as (
    select * from {{ ref('stg_shop__customers') }}
)

select
    orders.*,
    coalesce(items.item_count, 0) as item_count,
    coalesce(items.unit_count, 0) as unit_count,
    coalesce(items.items_total, 0) as items_total,
    customers.email as customer_email,
    customers.state_code as customer_state_code
from orders
left join items using (order_id)
left join customers using (customer_id)

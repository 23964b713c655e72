with customers as (
    select * from {{ ref('stg_shop__customers') }}
),

orders as (
    select
        customer_id,
        count(*) as order_count,
        min(ordered_at) as first_ordered_at,
        max(ordered_at) as last_ordered_at,
        sum(case when order_status in ('completed', 'shipped') then total_amount end) as lifetime_value
    from {{ ref('stg_shop__orders') }}
    group by customer_id
),

crm as (
    select * from {{ ref('int_crm_customers__matched') }}
)

select
    {{ surrogate_key(['customers.customer_id']) }} as customer_key,
    customers.customer_id,
    customers.email,
    customers.first_name,
    customers.last_name,
    customers.phone,
    customers.city,
    customers.state_code,
    customers.country_code,
    customers.zip_code,
    customers.created_at,
    coalesce(orders.order_count, 0) as order_count,
    orders.first_ordered_at,
    orders.last_ordered_at,
    coalesce(orders.lifetime_value, 0) as lifetime_value,
    crm.crm_customer_id,
    crm.crm_customer_id is not null as is_in_crm
from customers
left join orders using (customer_id)
left join crm on crm.shop_customer_id = customers.customer_id

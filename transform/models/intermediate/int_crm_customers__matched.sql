-- CRM customers matched to shop customers by normalised e-mail (one CRM record per shop
-- customer: the most recently updated).
with crm as (
    select * from {{ ref('stg_crm__customers') }}
),

shop as (
    select customer_id, email from {{ ref('stg_shop__customers') }}
)

select
    crm.crm_customer_id,
    shop.customer_id as shop_customer_id,
    crm.email,
    crm.crm_status,
    crm.segment,
    crm.lifetime_value as crm_lifetime_value
from crm
inner join shop on shop.email = crm.email
qualify row_number() over (partition by shop.customer_id order by crm.updated_at desc) = 1

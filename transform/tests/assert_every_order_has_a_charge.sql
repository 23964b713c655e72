-- Every shop order was charged through Stripe (one charge per order in this business).
select order_id
from {{ ref('fct_orders') }}
where not has_payment

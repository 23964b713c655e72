-- A succeeded Stripe charge is for exactly its order's total, to the cent.
select p.charge_id, p.amount, o.total_amount
from {{ ref('fct_payments') }} as p
inner join {{ ref('fct_orders') }} as o using (order_id)
where p.charge_status = 'succeeded' and p.amount <> o.total_amount

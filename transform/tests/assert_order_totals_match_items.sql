-- Order totals must equal the sum of their lines within the documented tolerance.
select order_id, total_amount, items_total
from {{ ref('fct_orders') }}
where abs(total_minus_items) > {{ var('order_total_tolerance') }}

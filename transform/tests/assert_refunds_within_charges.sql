-- Refunds never exceed what was charged.
select charge_id, amount, refunded_amount
from {{ ref('fct_payments') }}
where refunded_amount > amount or net_amount < 0

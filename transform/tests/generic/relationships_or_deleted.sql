{#
  `relationships`, except that a value may also name a row deleted in the source: every
  non-null value is in `to` (what exists now) or in `deleted` (keys whose latest change
  was a delete, e.g. stg_shop__deleted_orders). A Stripe charge of an order the shop
  deleted still names a real order, and stays.
#}
{% test relationships_or_deleted(model, column_name, to, field, deleted) %}
select child.{{ column_name }}
from {{ model }} as child
left join {{ to }} as parent on child.{{ column_name }} = parent.{{ field }}
left join {{ deleted }} as gone on child.{{ column_name }} = gone.{{ field }}
where child.{{ column_name }} is not null
    and parent.{{ field }} is null
    and gone.{{ field }} is null
{% endtest %}

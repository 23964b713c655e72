{#- Stripe amounts are integer minor units; zero-decimal currencies are not divided (portable SQL). -#}
{% macro minor_units_to_amount(amount_column, currency_column) -%}
    case
        when lower({{ currency_column }}) in ('bif', 'clp', 'djf', 'gnf', 'jpy', 'kmf', 'krw',
            'mga', 'pyg', 'rwf', 'ugx', 'vnd', 'vuv', 'xaf', 'xof', 'xpf')
            then cast({{ amount_column }} as decimal(18, 2))
        else cast({{ amount_column }} as decimal(18, 0)) * cast(0.01 as decimal(3, 2))
    end
{%- endmacro %}

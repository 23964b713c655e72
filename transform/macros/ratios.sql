{#-
  `numerator / denominator` rounded half away from zero to `scale` decimals, as
  decimal(18, scale); NULL when the denominator is not positive. Exact, never through a
  float: DuckDB divides decimals as doubles (decimal / decimal is a DOUBLE) and Spark
  divides integers as doubles, so `cost / clicks` would be a float on two engines of three.

  Both inputs must be exact with at most `input_decimals` decimals (money: 2, counts: 0).
  Scaled by 10^input_decimals they are integers N and D, and the result in units of
  10^-scale is round(N * 10^scale / D) = floor((2n + D) / 2D) with n = |N| * 10^scale.
  The floor is taken as (a - mod(a, b)) / b: the division of a multiple is an exact
  integer on every engine (in a double on DuckDB and Spark, exact below 2^53), so
  |numerator| * 10^(input_decimals + scale) must stay below 2^52 (4.5e15): a cost of up
  to 4.5 billion at 2 + 4 decimals. Same SQL on DuckDB, Spark and Snowflake.
-#}
{% macro exact_ratio(numerator, denominator, scale, input_decimals=0) -%}
    {%- set scaled = '(cast(abs(' ~ numerator ~ ') * ' ~ (10 ** (input_decimals + scale)) ~ ' as bigint))' -%}
    {%- set whole = '(cast(' ~ denominator ~ ' * ' ~ (10 ** input_decimals) ~ ' as bigint))' -%}
    {%- set dividend = '(2 * ' ~ scaled ~ ' + ' ~ whole ~ ')' -%}
    {%- set divisor = '(2 * ' ~ whole ~ ')' -%}
    {%- set units = 'cast((' ~ dividend ~ ' - mod(' ~ dividend ~ ', ' ~ divisor ~ ')) / ' ~ divisor ~ ' as bigint)' -%}
    case when {{ denominator }} > 0 then
        cast(
            cast(case when {{ numerator }} < 0 then -{{ units }} else {{ units }} end as decimal(18, 0))
            * cast({{ '0.' ~ '0' * (scale - 1) ~ '1' }} as decimal({{ scale + 1 }}, {{ scale }}))
            as decimal(18, {{ scale }})
        )
    end
{%- endmacro %}

{%- set date_column = source_column('date') -%}
{%- set channel = 'lower(trim(channel))' -%}
with source as (
    {{ latest_version(source('marketing', 'budget_plan'), date_column ~ ', ' ~ channel) }}
),

renamed as (
    select
        {{ surrogate_key([date_column, channel]) }} as budget_plan_id,
        cast({{ date_column }} as date) as plan_date,
        {{ channel }} as channel,
        cast(planned_budget as decimal(18, 2)) as planned_budget,
        _sdc_source_file as source_file,
        _sdc_source_lineno as source_lineno
    from source
)

select * from renamed

-- One row per stream per ingestion run, from elt-monitor's ledger: what the tap read,
-- what the target committed, whether they reconcile, and how long it took; with the job
-- run's verdict (its latest stage: gate or finish) and the codes of the stream's findings
-- (elt-monitor's verdict files). DuckDB only (the ledger is Parquet in the lake). A lake
-- without a ledger yet (the monitor has not run) gives an empty table instead of failing.
{{ config(enabled=target.type == 'duckdb') }}
-- dbt's lineage (the source is read only when the ledger exists, below):
-- depends_on: {{ source('monitor', 'ledger') }}

{%- set ledger_glob = env_var('LAKE_ROOT', '../output/lake') ~ '/_meta/ledger/*.parquet' -%}
{%- set verdict_glob = env_var('LAKE_ROOT', '../output/lake') ~ '/_meta/verdicts/*/*.json' -%}
{%- set has_ledger = false -%}
{%- set has_verdicts = false -%}
{%- if execute -%}
    {%- set found = run_query("select count(*) from glob('" ~ ledger_glob ~ "')") -%}
    {%- set has_ledger = found.columns[0].values()[0] > 0 -%}
    {%- set found = run_query("select count(*) from glob('" ~ verdict_glob ~ "')") -%}
    {%- set has_verdicts = found.columns[0].values()[0] > 0 -%}
{%- endif %}

{% if has_ledger %}
with ledger as (
    select *
    from {{ source('monitor', 'ledger') }}
    where stream <> '*'
    qualify row_number() over (
        partition by job_run_id, run_id, stream order by recorded_at desc
    ) = 1
),

{% if has_verdicts %}
verdicts as (
    select job_run_id, severity as run_verdict, stage as verdict_stage, findings
    from read_json(
        '{{ verdict_glob }}',
        columns = {job_run_id: 'VARCHAR', severity: 'VARCHAR', stage: 'VARCHAR', findings: 'JSON'}
    )
),

stream_codes as (
    select
        job_run_id as codes_run_id,
        finding ->> 'stream' as stream_name,
        string_agg(distinct finding ->> 'code', ',' order by finding ->> 'code') as finding_codes
    from verdicts, unnest(json_extract(findings, '$[*]')) as found(finding)
    group by all
)
{% else %}
verdicts as (
    select
        cast(null as varchar) as job_run_id,
        cast(null as varchar) as run_verdict,
        cast(null as varchar) as verdict_stage
    where false
),

stream_codes as (
    select
        cast(null as varchar) as codes_run_id,
        cast(null as varchar) as stream_name,
        cast(null as varchar) as finding_codes
    where false
)
{% endif %}

select
    {{ surrogate_key(['job_run_id', 'run_id', 'source', 'stream']) }} as ingestion_run_key,
    job_run_id,
    run_id,
    job,
    environment,
    source,
    stream,
    status,
    run_kind,
    started_at,
    finished_at,
    date_diff('millisecond', started_at, finished_at) / 1000.0 as duration_seconds,
    tap_rows,
    target_rows,
    coalesce(quarantine_rows, 0) as quarantine_rows,
    files,
    bytes,
    min_replication_value,
    max_replication_value,
    schema_hash,
    schema_change is not null as schema_changed,
    case
        when status <> 'success' or tap_rows is null then null
        else tap_rows = target_rows
    end as tap_target_reconciled,
    error,
    verdicts.run_verdict,
    verdicts.verdict_stage,
    stream_codes.finding_codes
from ledger
left join verdicts using (job_run_id)
left join stream_codes
    on stream_codes.codes_run_id = ledger.job_run_id
    and stream_codes.stream_name = ledger.source || '/' || ledger.stream
{% else %}
select
    cast(null as varchar) as ingestion_run_key,
    cast(null as varchar) as job_run_id,
    cast(null as varchar) as run_id,
    cast(null as varchar) as job,
    cast(null as varchar) as environment,
    cast(null as varchar) as source,
    cast(null as varchar) as stream,
    cast(null as varchar) as status,
    cast(null as varchar) as run_kind,
    cast(null as timestamptz) as started_at,
    cast(null as timestamptz) as finished_at,
    cast(null as double) as duration_seconds,
    cast(null as bigint) as tap_rows,
    cast(null as bigint) as target_rows,
    cast(null as bigint) as quarantine_rows,
    cast(null as bigint) as files,
    cast(null as bigint) as bytes,
    cast(null as varchar) as min_replication_value,
    cast(null as varchar) as max_replication_value,
    cast(null as varchar) as schema_hash,
    cast(null as boolean) as schema_changed,
    cast(null as boolean) as tap_target_reconciled,
    cast(null as varchar) as error,
    cast(null as varchar) as run_verdict,
    cast(null as varchar) as verdict_stage,
    cast(null as varchar) as finding_codes
where false
{% endif %}

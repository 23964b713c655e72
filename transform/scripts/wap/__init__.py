"""Write, audit, publish: dbt builds into a staging location, its tests run there, and
the marts users query are swapped in atomically only when every error-severity test
passed. Entry point: `python transform/scripts/wap_publish.py <engine>` (the dbt-*
utilities' `wap` command)."""


class PublishError(RuntimeError):
    """The build passed its audit but could not be swapped in; what users see is as it was."""

"""Every private singer-sdk name the plugins override, call or set, pinned as they use it.

The fast paths rely on names the SDK does not promise to keep: `_sync_records` (the
LOG_BASED run), `state_manager.is_flushed` (STATE in the middle of a stream), the
target's `_write_state_message` (STATE only after a commit), and more below. An SDK
upgrade that renamed one, or changed its parameters, would not fail: the override
would simply never be called, and a guarantee (exactly-once STATE, the fast path, the
change run) would silently be gone. Here each name fails on its own, by name, first.

Methods are pinned by their parameters (name, kind, whether it has a default: the way
the plugins call or override them), not by annotations; instance attributes by the SDK
class assigning them; flags by the SDK code that reads them. `USERS` says who relies on
each, so a failure says where to look.
"""

from __future__ import annotations

import ast
import inspect
import textwrap

import pytest
from singer_sdk import PluginBase, Sink, Stream, Target
from singer_sdk.singerlib.encoding.base import GenericSingerReader
from singer_sdk.streams import _state
from singer_sdk.streams.rest import RESTStream

POSITIONAL = "POSITIONAL_OR_KEYWORD"
KEYWORD = "KEYWORD_ONLY"

# (class, method) -> [(parameter, kind, has a default)], self left out
METHODS: dict[tuple[type, str], list[tuple[str, str, bool]]] = {
    (Stream, "_sync_records"): [("context", POSITIONAL, True), ("write_messages", KEYWORD, True)],
    (Stream, "_sync_batches"): [("batch_config", POSITIONAL, False), ("context", POSITIONAL, True)],
    (Stream, "_generate_schema_messages"): [],
    (Stream, "_write_state_message"): [],
    (Stream, "_finalize_state"): [("state", POSITIONAL, True)],
    (Stream, "_check_max_record_limit"): [("current_record_index", POSITIONAL, False)],
    (Stream, "_increment_stream_state"): [
        ("latest_record", POSITIONAL, False),
        ("context", KEYWORD, True),
    ],
    (Stream, "_write_starting_replication_value"): [("context", POSITIONAL, False)],
    (Stream, "_write_record_message"): [("record", POSITIONAL, False)],
    (Stream, "_write_schema_message"): [],
    (PluginBase, "_validate_config"): [("raise_errors", KEYWORD, True)],
    (RESTStream, "_request"): [
        ("prepared_request", POSITIONAL, False),
        ("context", POSITIONAL, False),
    ],
    (Target, "_process_record_message"): [("message_dict", POSITIONAL, False)],
    (Target, "_process_schema_message"): [("message_dict", POSITIONAL, False)],
    (Target, "_process_activate_version_message"): [("message_dict", POSITIONAL, False)],
    (Target, "_process_batch_message"): [("message_dict", POSITIONAL, False)],
    (Target, "_process_state_message"): [("message_dict", POSITIONAL, False)],
    (Target, "_write_state_message"): [("state", POSITIONAL, False)],
    (Target, "_handle_max_record_age"): [],
    (Sink, "_add_sdc_metadata_to_record"): [
        ("record", POSITIONAL, False),
        ("message", POSITIONAL, False),
        ("context", POSITIONAL, False),
    ],
    (Sink, "_validate_and_parse"): [("record", POSITIONAL, False)],
    (GenericSingerReader, "_process_unknown_message"): [("message_dict", POSITIONAL, False)],
}

# instance attributes the plugins read or set: (class, attribute)
ATTRIBUTES: list[tuple[type, str]] = [
    (Stream, "_tap"),
    (Stream, "_schema"),
    (Stream, "_input_schema"),
    (Stream, "_stream_version"),
    (Target, "_sinks_active"),
    (Target, "_sinks_to_clear"),
    (GenericSingerReader, "_current_message"),
    (_state.StreamStateManager, "is_flushed"),
]

USERS = {
    "_sync_records": "tap-ecommerce-postgres stream.py (fast path, LOG_BASED run)",
    "_sync_batches": "tap-ecommerce-postgres stream.py (LOG_BASED snapshot as BATCH)",
    "_generate_schema_messages": "tap-ecommerce-postgres stream.py (decimal precision)",
    "_write_state_message": "tap-ecommerce-postgres, tap-legacy-crm, tap-stripe-custom; "
    "target-minio-parquet target.py (STATE after commit)",
    "_finalize_state": "tap-ecommerce-postgres stream.py",
    "_check_max_record_limit": "tap-ecommerce-postgres stream.py (record limit)",
    "_increment_stream_state": "tap-ecommerce-postgres stream.py (SDK path bookmark)",
    "_write_starting_replication_value": "tap-ecommerce-postgres stream.py",
    "_write_record_message": "tap-ecommerce-postgres cdc/sync.py",
    "_write_schema_message": "tap-ecommerce-postgres cdc/sync.py (new columns)",
    "_validate_config": "tap-legacy-crm tap.py",
    "_request": "tap-legacy-crm stream.py",
    "_process_record_message": "target-minio-parquet target.py",
    "_process_schema_message": "target-minio-parquet target.py",
    "_process_activate_version_message": "target-minio-parquet target.py",
    "_process_batch_message": "target-minio-parquet target.py",
    "_process_state_message": "target-minio-parquet target.py",
    "_handle_max_record_age": "target-minio-parquet target.py",
    "_add_sdc_metadata_to_record": "target-minio-parquet sink.py",
    "_validate_and_parse": "target-minio-parquet sink.py",
    "_process_unknown_message": "target-minio-parquet reader.py",
    "_tap": "tap-ecommerce-postgres cdc/sync.py",
    "_schema": "tap-ecommerce-postgres stream.py",
    "_input_schema": "tap-ecommerce-postgres stream.py",
    "_stream_version": "tap-ecommerce-postgres stream.py",
    "_sinks_active": "target-minio-parquet target.py",
    "_sinks_to_clear": "target-minio-parquet target.py",
    "_current_message": "target-minio-parquet reader.py",
    "is_flushed": "tap-ecommerce-postgres, tap-legacy-crm, tap-stripe-custom (mid-stream STATE)",
}


def shape(function) -> list[tuple[str, str, bool]]:
    parameters = list(inspect.signature(function).parameters.values())[1:]  # self
    return [(p.name, p.kind.name, p.default is not p.empty) for p in parameters]


@pytest.mark.parametrize(
    ("owner", "name"), list(METHODS), ids=[f"{o.__name__}.{n}" for o, n in METHODS]
)
def test_private_method_keeps_its_name_and_parameters(owner: type, name: str) -> None:
    where = f"singer-sdk {owner.__name__}.{name} (used by {USERS[name]})"
    assert callable(getattr(owner, name, None)), f"{where} is gone"
    assert shape(getattr(owner, name)) == METHODS[(owner, name)], f"{where} changed parameters"


def assigned_attributes(owner: type) -> set[str]:
    """`self.<name> = ...` anywhere in the class's own code (its bases included)."""
    names: set[str] = set()
    for cls in owner.__mro__:
        if not cls.__module__.startswith("singer_sdk"):
            continue
        tree = ast.parse(textwrap.dedent(inspect.getsource(cls)))
        for node in ast.walk(tree):
            if (
                isinstance(node, ast.Attribute)
                and isinstance(node.ctx, ast.Store)
                and isinstance(node.value, ast.Name)
                and node.value.id == "self"
            ):
                names.add(node.attr)
    return names


@pytest.mark.parametrize(
    ("owner", "name"), ATTRIBUTES, ids=[f"{o.__name__}.{n}" for o, n in ATTRIBUTES]
)
def test_private_attribute_is_still_set_by_the_sdk(owner: type, name: str) -> None:
    assert name in assigned_attributes(owner), (
        f"singer-sdk {owner.__name__} no longer sets {name} (used by {USERS[name]})"
    )


def test_stream_state_is_written_only_when_not_flushed() -> None:
    """The plugins write STATE mid-stream by setting `state_manager.is_flushed = False`
    and calling `_write_state_message`: the SDK must still gate the write on that flag,
    and `state_manager` must still be the StreamStateManager that holds it."""
    source = inspect.getsource(Stream._write_state_message)
    assert "self.state_manager.is_flushed" in source, (
        "singer-sdk Stream._write_state_message no longer reads state_manager.is_flushed "
        f"(used by {USERS['is_flushed']})"
    )
    manager = inspect.signature(Stream.state_manager.fget).return_annotation
    assert "StreamStateManager" in str(manager), "singer-sdk Stream.state_manager changed type"


def test_private_batch_module_names_are_still_there() -> None:
    """target-minio-parquet sink.py imports these from singer_sdk.helpers._batch."""
    from singer_sdk.helpers import _batch

    for name in ("BaseBatchFileEncoding", "BatchFileFormat", "StorageTarget"):
        assert hasattr(_batch, name), f"singer_sdk.helpers._batch.{name} is gone"


def test_private_conform_function_is_still_there() -> None:
    """tap-stripe-custom root_conform.py hands values JSON cannot carry (datetimes,
    bytes, ...) to this function, so its ROOT_ONLY result stays the SDK's."""
    from singer_sdk.helpers import _typing

    function = getattr(_typing, "_conform_primitive_property", None)
    assert callable(function), "singer_sdk.helpers._typing._conform_primitive_property is gone"
    parameters = [(p.name, p.kind.name) for p in inspect.signature(function).parameters.values()]
    assert parameters == [("elem", POSITIONAL), ("property_schema", POSITIONAL)], (
        "singer_sdk.helpers._typing._conform_primitive_property changed parameters"
    )

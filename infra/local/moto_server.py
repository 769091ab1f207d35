"""Starts moto's server for fanmail's local stack, with two fixes to its DynamoDB stand-in.

1. TransactWriteItems: moto snapshots every table a transaction touches with a deep copy, so
   one transaction costs time in proportion to the table (about 270 ms at 1,000 items, 1.1 s
   at 5,000, measured here). The snapshot below copies the tables' item maps shallowly and
   deep-copies only the items the transaction writes, which is all a rollback needs.
2. moto's DynamoDB backend is not safe for concurrent requests (a snapshot taken while another
   request writes fails with "dictionary changed size during iteration"), so DynamoDB requests
   are served one at a time. DynamoDB itself serialises conflicting writes the same way.

Usage: python moto_server.py -H 127.0.0.1 -p <port>   (the arguments of moto_server)
"""

import copy
import sys
import threading
from collections import defaultdict

import moto.dynamodb.models as dynamodb_models
from moto.dynamodb.models import DynamoDBBackend
from moto.dynamodb.models.dynamo_type import DynamoType
from moto.dynamodb.models.table import Table
from moto.dynamodb.responses import DynamoHandler
from moto.server import main

_in_transaction = threading.local()


def _touched_keys(backend, transact_items):
    """(table name, hash value, range value) of every item the transaction writes."""
    keys = set()
    for entry in transact_items:
        op_type, op = next(iter(entry.items()))
        table = backend.tables.get(op.get("TableName"))
        if table is None:
            continue
        key = op.get("Item") if op_type == "Put" else op.get("Key")
        if not key or table.hash_key_attr not in key:
            continue
        hash_value = DynamoType(key[table.hash_key_attr])
        range_value = DynamoType(key[table.range_key_attr]) if table.range_key_attr and table.range_key_attr in key else None
        keys.add((table.name, hash_value, range_value))
    return keys


def _snapshot(table, touched):
    """A copy of the table sharing untouched items, with the touched ones deep-copied."""
    clone = copy.copy(table)
    items = defaultdict(dict)
    if table.range_key_attr:
        for hash_value, ranges in table.items.items():
            items[hash_value] = dict(ranges)
    else:
        items.update(table.items)
    for name, hash_value, range_value in touched:
        if name != table.name or hash_value not in items:
            continue
        if table.range_key_attr:
            if range_value in items[hash_value]:
                items[hash_value][range_value] = copy.deepcopy(items[hash_value][range_value])
        else:
            items[hash_value] = copy.deepcopy(items[hash_value])
    clone.items = items
    return clone


class _Copy:
    """Stands in for the `copy` module inside moto's DynamoDB models."""

    def __getattr__(self, name):
        return getattr(copy, name)

    def deepcopy(self, value, memo=None):
        touched = getattr(_in_transaction, "keys", None)
        if touched is not None and isinstance(value, Table):
            return _snapshot(value, touched)
        return copy.deepcopy(value, memo)


dynamodb_models.copy = _Copy()

_original_transact = DynamoDBBackend.transact_write_items


def _transact_write_items(self, transact_items):
    _in_transaction.keys = _touched_keys(self, transact_items)
    try:
        return _original_transact(self, transact_items)
    finally:
        _in_transaction.keys = None


DynamoDBBackend.transact_write_items = _transact_write_items

_dynamodb_lock = threading.RLock()
_original_call_action = DynamoHandler.call_action


def _call_action(self):
    with _dynamodb_lock:
        return _original_call_action(self)


DynamoHandler.call_action = _call_action

if __name__ == "__main__":
    main(sys.argv[1:])

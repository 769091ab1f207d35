"""Starts moto's server for fanmail's local stack, with fixes to its DynamoDB and SQS stand-ins.

1. TransactWriteItems: moto snapshots every table a transaction touches with a deep copy, so
   one transaction costs time in proportion to the table (about 270 ms at 1,000 items, 1.1 s
   at 5,000, measured here). Below, only the items the transaction writes are copied before
   it runs, and put back if it fails, which is all a rollback needs.
2. moto's DynamoDB backend is not safe for concurrent requests (a snapshot taken while another
   request writes fails with "dictionary changed size during iteration"), so DynamoDB requests
   are served one at a time. DynamoDB itself serialises conflicting writes the same way. A
   read waiting for its turn goes before waiting writes: under a campaign's stream of
   transactions a status read would otherwise wait behind dozens of them.
3. SQS ReceiveMessage walks the whole queue several times per message it returns (the visible
   list is built in full, and the retention check computes every queue attribute, each a walk
   of the queue), and DeleteMessage walks it twice per receipt handle. So every receive and
   delete costs time in proportion to the queue's depth, and a 20,000-message queue stalls the
   stack; SendMessage computes every queue attribute too, to read one setting. Below, visible
   messages are found lazily (a receive stops at its batch), retention reads the one
   attribute it needs, receipt handles are indexed, and a send skips the message counts.
4. DynamoDB expressions are parsed anew on every request, twice for a transaction's items (once
   to validate the request, once to apply it), and the parsed update expression is deep-copied
   before use. fanmail sends the same few expressions over and over with different values, so
   the parsed update expressions and the condition expressions' tokens are kept by their text,
   and the copy is made by pickling, several times faster than `copy.deepcopy` on these trees.
   An update that creates an item is validated twice, once against an empty item so a bad
   expression creates nothing; inside a transaction the rollback above already undoes a
   created item, so there the first pass is skipped. Together these were most of the CPU moto
   spent per mail (12 ms a mail before, 9 after the caches; measured with py-spy).
5. Every request lists moto's package directory (and stats each entry) to find its backend,
   under a lock that serialises all requests; the listing is read once here.
6. Python's cycle collector, on each full collection, walks every object the process holds,
   and moto holds every stored item as objects: at a 30,000-recipient campaign a full
   collection stopped the process for 2-4 s (status reads that slow, a minute or so apart,
   longer as the tables grew). Full collections are turned off; the young generations still
   collect the short-lived cycles a request leaves, and what lives long here is the stored
   data, which is kept anyway.

Usage: python moto_server.py -H 127.0.0.1 -p <port>   (the arguments of moto_server)
"""

import copy
import functools
import gc
import pickle
import sys
import threading

import weakref
from collections import deque

import moto.backends as moto_backends
import moto.dynamodb.models as dynamodb_models
import moto.dynamodb.parsing.validators as dynamodb_validators
import moto.sqs.models as sqs_models
from moto.dynamodb.comparisons import ConditionExpressionParser
from moto.dynamodb.parsing.expressions import UpdateExpressionParser
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


def _item(table, hash_value, range_value):
    if table.range_key_attr:
        return table.items.get(hash_value, {}).get(range_value)
    return table.items.get(hash_value)


def _restore(table, hash_value, range_value, item):
    """Puts back an item as it was before a transaction (`None`: it did not exist)."""
    if table.range_key_attr:
        bucket = table.items[hash_value]
        if item is None:
            bucket.pop(range_value, None)
        else:
            bucket[range_value] = item
    elif item is None:
        table.items.pop(hash_value, None)
    else:
        table.items[hash_value] = item


class _Copy:
    """Stands in for the `copy` module inside moto's DynamoDB models."""

    def __getattr__(self, name):
        return getattr(copy, name)

    def deepcopy(self, value, memo=None):
        # Inside a transaction the "snapshot" is the live table: a rollback puts back only the
        # items the transaction wrote (below), so nothing is copied in proportion to the table.
        if getattr(_in_transaction, "active", False) and isinstance(value, Table):
            return value
        return copy.deepcopy(value, memo)


dynamodb_models.copy = _Copy()

_original_transact = DynamoDBBackend.transact_write_items


def _transact_write_items(self, transact_items):
    saved = []
    for name, hash_value, range_value in _touched_keys(self, transact_items):
        table = self.tables[name]
        saved.append((table, hash_value, range_value, copy.deepcopy(_item(table, hash_value, range_value))))
    _in_transaction.active = True
    try:
        return _original_transact(self, transact_items)
    except Exception:
        for table, hash_value, range_value, item in saved:
            _restore(table, hash_value, range_value, item)
        raise
    finally:
        _in_transaction.active = False


DynamoDBBackend.transact_write_items = _transact_write_items


class _ReadsFirst:
    """One DynamoDB request at a time; when it ends, a waiting read is served before any
    waiting write."""

    READS = ("GetItem", "BatchGetItem", "Query", "Scan", "DescribeTable", "ListTables")

    def __init__(self):
        self._turn = threading.Condition()
        self._busy = False
        self._reads_waiting = 0

    def serve(self, is_read, request):
        with self._turn:
            self._reads_waiting += is_read
            while self._busy or (not is_read and self._reads_waiting):
                self._turn.wait()
            self._reads_waiting -= is_read
            self._busy = True
        try:
            return request()
        finally:
            with self._turn:
                self._busy = False
                self._turn.notify_all()


_dynamodb_turns = _ReadsFirst()
_original_call_action = DynamoHandler.call_action


def _call_action(self):
    target = (self.headers or {}).get("X-Amz-Target", "")
    is_read = target.rpartition(".")[2] in _ReadsFirst.READS
    return _dynamodb_turns.serve(is_read, lambda: _original_call_action(self))


DynamoHandler.call_action = _call_action


class _VisibleMessages:
    """A queue's visible, undelayed messages, found as they are iterated."""

    def __init__(self, messages):
        self._messages = messages

    def __iter__(self):
        return (m for m in self._messages if m.visible and not m.delayed)

    def __bool__(self):
        return any(True for _ in self)

    def __len__(self):
        return sum(1 for _ in self)


sqs_models.Queue.messages = property(lambda queue: _VisibleMessages(queue._messages))

# Every receipt handle a message was ever given, to the message.
_by_receipt_handle = weakref.WeakValueDictionary()
_original_mark_received = sqs_models.Message.mark_received


def _mark_received(self, visibility_timeout=None):
    _original_mark_received(self, visibility_timeout)
    _by_receipt_handle[self.receipt_handle] = self


sqs_models.Message.mark_received = _mark_received


def _delete_message(self, receipt_handle):
    if receipt_handle in self.deleted_messages:
        return  # already deleted: SQS accepts a second delete
    message = _by_receipt_handle.get(receipt_handle)
    if message is None:
        raise sqs_models.ReceiptHandleIsInvalid()
    self.pending_messages.discard(message)
    self.deleted_messages.update(message.all_receipt_handles)
    try:
        self._messages.remove(message)
    except ValueError:
        raise sqs_models.ReceiptHandleIsInvalid() from None


sqs_models.Queue.delete_message = _delete_message


def _is_message_valid_based_on_retention_period(self, queue_name, message):
    retention_period = int(self.get_queue(queue_name).message_retention_period)
    return retention_period + message.sent_timestamp / 1000 > sqs_models.unix_time()


sqs_models.SQSBackend.is_message_valid_based_on_retention_period = _is_message_valid_based_on_retention_period

# SendMessage reads `queue.attributes` for one setting, which counts the queue's messages three
# times over; the counts are never used there.
_sending = threading.local()
_original_send_message = sqs_models.SQSBackend.send_message


def _send_message(self, *args, **kwargs):
    _sending.active = True
    try:
        return _original_send_message(self, *args, **kwargs)
    finally:
        _sending.active = False


sqs_models.SQSBackend.send_message = _send_message


def _uncounted_while_sending(count):
    return property(lambda queue: 0 if getattr(_sending, "active", False) else count.fget(queue))


for _name in (
    "approximate_number_of_messages",
    "approximate_number_of_messages_delayed",
    "approximate_number_of_messages_not_visible",
):
    setattr(sqs_models.Queue, _name, _uncounted_while_sending(getattr(sqs_models.Queue, _name)))

# Parsed update expressions by their text. The validator copies the tree before it changes it
# (below), so one parsed tree serves every request with the same text.
_parse_update_expression = functools.lru_cache(maxsize=256)(UpdateExpressionParser.make.__func__)
UpdateExpressionParser.make = classmethod(lambda cls, expression: _parse_update_expression(cls, expression))

# A condition expression's tokens depend on its text alone; names and values are applied after.
_condition_tokens = {}
_original_lex_condition = ConditionExpressionParser._lex_condition_expression


def _lex_condition_expression(self):
    tokens = _condition_tokens.get(self.condition_expression)
    if tokens is None:
        tokens = tuple(_original_lex_condition(self))
        if len(_condition_tokens) < 256:
            _condition_tokens[self.condition_expression] = tokens
    return deque(tokens)


ConditionExpressionParser._lex_condition_expression = _lex_condition_expression


def _copy_tree(value, memo=None):
    return pickle.loads(pickle.dumps(value, pickle.HIGHEST_PROTOCOL))


dynamodb_validators.deepcopy = _copy_tree


class _UpdateExpressionValidator(dynamodb_validators.UpdateExpressionValidator):
    """Skips the pass against an empty item (one with no attributes, not even its key) that
    update_item makes before creating an item, when a transaction's rollback covers it."""

    def __init__(self, expression, *args, item=None, **kwargs):
        self._only_guarding_creation = getattr(_in_transaction, "active", False) and item is not None and not item.attrs
        if self._only_guarding_creation:
            self.node_to_validate = expression
            return
        super().__init__(expression, *args, item=item, **kwargs)

    def validate(self):
        if self._only_guarding_creation:
            return self.node_to_validate
        return super().validate()


dynamodb_models.UpdateExpressionValidator = _UpdateExpressionValidator

_moto_modules = tuple(moto_backends.list_of_moto_modules())
moto_backends.list_of_moto_modules = lambda: _moto_modules

if __name__ == "__main__":
    gc.freeze()
    young, middle, _ = gc.get_threshold()
    gc.set_threshold(young, middle, 2**31 - 1)
    main(sys.argv[1:])

"""The outbox: every outgoing bulk message is a delivery row before anything is sent.

Notices, reminders and summaries (DESIGN principle 3) enqueue one row per recipient and
purpose; the delivery worker (scheduler/delivery.py) claims due rows, sends them through the
bot's rate limiter and records each outcome here. Nothing in this module knows Telegram: a
payload is plain JSON (texts already rendered in the recipient's language, buttons as data,
files as a Telegram file_id or an uploaded file kept in `outbox_files`).

A delivery moves through these states::

    pending --claim--> claimed --before the HTTP call--> sending --> sent | failed | blocked
       ^                  |                                  |
       +---- retry -------+----------------------------------+   (transient error, RetryAfter)

* `claimed` rows were taken by a worker but never handed to Telegram: if the worker dies
  they are simply taken again when the lease expires.
* `sending` is committed immediately before each HTTP call (after the rate limiter let it
  through), and the result right after it; the worker also notes Telegram's answer in its
  journal (scheduler/journal.py) the moment it arrives, and a restarted worker replays that
  first. A row still `sending` when its lease expires was on its way when the worker died:
  it is taken again and sent again, because a lost notice is worse than a repeated one.
  Such rows count in `in_doubt`, and so does a send that timed out or lost its connection
  after the request went out (Telegram may have taken it; it is sent again). Those are the
  only ways a recipient can get a message twice: delivery is at least once, and a crash
  repeats at most the messages in flight then (the worker keeps about rate x round trip in
  flight, at most delivery.concurrency). docs/reference/delivery.md, "What is
  guaranteed".
* Temporary errors are retried with capped back-off for delivery.retry_for after the
  row's first failure (`failing_since`); then it is `failed`, and staff may requeue it
  (requeue_failed: `huibao notices retry ID`, the notice's status screen; `huibao rounds
  retry ID`, the round's screen).
"""

from models.outbox.claims import (
    SentItem,
    claim,
    mark_failed,
    mark_part_sent,
    mark_sending,
    mark_sending_many,
    mark_sent,
    mark_sent_many,
    release,
    renew,
    reschedule,
)
from models.outbox.enqueue import (
    ENQUEUE_CHUNK,
    create_batch,
    dialect_of,
    enqueue,
    queued_in,
)
from models.outbox.messages import (
    Button,
    Kind,
    Outgoing,
    OutMessage,
)
from models.outbox.reports import (
    Progress,
    Undelivered,
    open_batches,
    progress,
    undelivered,
)
from models.outbox.requeue import (
    ROUND_PURPOSES,
    Requeued,
    count_unreached,
    purpose_of_notice,
    purpose_of_round,
    requeue_failed,
)
from models.outbox.tables import (
    ERROR_LENGTH,
    HELD,
    PURPOSE_LENGTH,
    Delivery,
    DeliveryBatch,
    OutboxFile,
    Status,
    deliveries_table,
)

__all__ = [
    "ENQUEUE_CHUNK",
    "ERROR_LENGTH",
    "HELD",
    "PURPOSE_LENGTH",
    "ROUND_PURPOSES",
    "Button",
    "Delivery",
    "DeliveryBatch",
    "Kind",
    "OutMessage",
    "OutboxFile",
    "Outgoing",
    "Progress",
    "Requeued",
    "SentItem",
    "Status",
    "Undelivered",
    "claim",
    "count_unreached",
    "create_batch",
    "deliveries_table",
    "dialect_of",
    "enqueue",
    "mark_failed",
    "mark_part_sent",
    "mark_sending",
    "mark_sending_many",
    "mark_sent",
    "mark_sent_many",
    "open_batches",
    "progress",
    "purpose_of_notice",
    "purpose_of_round",
    "queued_in",
    "release",
    "renew",
    "requeue_failed",
    "reschedule",
    "undelivered",
]

"""Messages to systems outside the hub (the bank, FK systems), written with the
domain change that calls for them and delivered afterwards, with retries."""

from hub.outbox.service import Courier, DeliveryRun, Outbox, Refused, Transient, enqueue

__all__ = ["Courier", "DeliveryRun", "Outbox", "Refused", "Transient", "enqueue"]

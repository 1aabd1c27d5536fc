"""A crafted FIX 4.4 counterparty for the inbound-control tests: QuickFIX (the same binding), run
as an acceptor in the test process, answering each NewOrderSingle as the test scripts it.

    with CraftedAcceptor(tmp_path, comp_id="BANK") as lp:
        lp.plan(lambda order: [lp.fill(order, price="1.0900")])  # worse than the limit
        ...
        lp.send(lp.fill(order, exec_id="X-1"))  # anything, any time (unsolicited, duplicate)
        lp.skip_sequence(3)  # the next message jumps MsgSeqNum by 3: a gap the initiator sees

The plans are used in turn, one per NewOrderSingle; with none left, the order is filled at its
limit. Orders received are kept in `orders` (their fields, tag -> value).
"""

from __future__ import annotations

import itertools
import threading
from collections.abc import Callable
from decimal import Decimal
from pathlib import Path
from types import TracebackType

import quickfix as fix

from dealchat.execution.fix.engine import data_dictionary
from dealchat.execution.fix.messages import fields_of
from tests.execution.executor import free_port

Fields = dict[int, str]
Plan = Callable[[Fields], list[list[tuple[int, str]]]]
LP_ID = "CRAFTED"


class _App(fix.Application):  # type: ignore[misc]
    def __init__(self, owner: CraftedAcceptor) -> None:
        super().__init__()
        self.owner = owner

    def onCreate(self, session_id: fix.SessionID) -> None:  # noqa: N802
        self.owner.session_id = session_id

    def onLogon(self, session_id: fix.SessionID) -> None:  # noqa: N802
        self.owner.logged_on.set()

    def onLogout(self, session_id: fix.SessionID) -> None:  # noqa: N802
        self.owner.logged_on.clear()

    def toAdmin(self, message: fix.Message, session_id: fix.SessionID) -> None:  # noqa: N802
        return None

    def fromAdmin(self, message: fix.Message, session_id: fix.SessionID) -> None:  # noqa: N802
        return None

    def toApp(self, message: fix.Message, session_id: fix.SessionID) -> None:  # noqa: N802
        return None

    def fromApp(self, message: fix.Message, session_id: fix.SessionID) -> None:  # noqa: N802
        fields = fields_of(message.toString())
        self.owner.received.append(fields)
        kind = fields.get(35)
        if kind in ("D", "F", "G"):
            if kind == "D":
                self.owner.orders.append(fields)
            # answered from another thread: sending from inside fromApp would hold the session
            answer = self.owner.answer if kind == "D" else self.owner.answer_change
            threading.Thread(target=answer, args=(fields,), daemon=True).start()


class CraftedAcceptor:
    def __init__(self, folder: Path, *, comp_id: str) -> None:
        self.port = free_port()
        self.comp_id = comp_id
        self.orders: list[Fields] = []
        self.received: list[Fields] = []
        self.plans: list[Plan] = []
        self.refuse_changes = False
        self.logged_on = threading.Event()
        self.session_id: fix.SessionID | None = None
        self._exec_ids = itertools.count(1)
        folder.mkdir(parents=True, exist_ok=True)
        config = folder / "crafted.cfg"
        config.write_text(
            "\n".join(
                [
                    "[DEFAULT]",
                    "ConnectionType=acceptor",
                    f"SocketAcceptPort={self.port}",
                    "SocketReuseAddress=Y",
                    f"FileStorePath={folder / 'store'}",
                    "StartTime=00:00:00",
                    "EndTime=00:00:00",
                    "UseDataDictionary=Y",
                    f"DataDictionary={data_dictionary()}",
                    "[SESSION]",
                    "BeginString=FIX.4.4",
                    f"SenderCompID={LP_ID}",
                    f"TargetCompID={comp_id}",
                    "HeartBtInt=30",
                ]
            )
            + "\n",
            encoding="utf-8",
        )
        settings = fix.SessionSettings(str(config))
        self._app = _App(self)
        self._acceptor: fix.SocketAcceptor | None = fix.SocketAcceptor(
            self._app,
            fix.FileStoreFactory(settings),
            settings,
            fix.ScreenLogFactory(False, False, False),
        )

    def __enter__(self) -> CraftedAcceptor:
        assert self._acceptor is not None
        self._acceptor.start()
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        trace: TracebackType | None,
    ) -> None:
        self._acceptor.stop(True)
        self._acceptor = None  # destroyed: QuickFIX's session registry lets go of the session

    def plan(self, plan: Plan) -> None:
        self.plans.append(plan)

    def answer(self, order: Fields) -> None:
        plan = self.plans.pop(0) if self.plans else (lambda o: [self.fill(o)])
        for body in plan(order):
            self.send(body)

    def answer_change(self, change: Fields) -> None:
        """A cancel is cancelled, a cancel/replace replaced (unless `refuse_changes`)."""
        order = next(o for o in self.orders if o[11] == change[41].split(".")[0])
        if self.refuse_changes:
            body = [(35, "9"), (37, f"LP-{order[11]}"), (11, change[11]), (41, change[41])]
            body += [(39, "0"), (434, "1" if change[35] == "F" else "2"), (58, "too late")]
            self.send(body)
            return
        kind = "4" if change[35] == "F" else "5"
        status = "4" if kind == "4" else "0"  # FIX 4.4: a replaced order is New again
        body = [(35, "8"), (37, f"LP-{order[11]}"), (11, change[11]), (41, change[41])]
        body += [(17, f"E{next(self._exec_ids)}"), (150, kind), (39, status), (55, order[55])]
        body += [(54, order[54]), (38, change.get(38, order[38])), (14, "0"), (151, "0")]
        body += [(6, "0")]
        self.send(body)

    def fill(
        self,
        order: Fields,
        *,
        quantity: str | None = None,
        price: str | None = None,
        exec_id: str | None = None,
        cum: str | None = None,
        side: str | None = None,
        exec_type: str = "F",
        settl_date: str | None = None,
    ) -> list[tuple[int, str]]:
        """An ExecutionReport for `order` (a full fill at its limit unless told otherwise)."""
        qty = quantity or order[38]
        body = [
            (35, "8"),
            (37, f"LP-{order[11]}"),
            (11, order[11]),
            (17, exec_id or f"E{next(self._exec_ids)}"),
            (150, exec_type),
            (39, "2" if exec_type == "F" and cum in (None, order[38]) else "1"),
            (55, order[55]),
            (54, side or order[54]),
            (38, order[38]),
            (32, qty),
            (31, price or order.get(44, "1")),
            (14, cum or qty),
            (151, str(max(Decimal(order[38]) - Decimal(cum or qty), Decimal(0)))),
            (6, price or order.get(44, "1")),
        ]
        if exec_type != "F":
            body = [(t, v) for t, v in body if t not in (32, 31)]
        if settl_date:
            body.append((64, settl_date))
        return body

    def send(self, body: list[tuple[int, str]]) -> None:
        message = fix.Message()
        message.getHeader().setField(fix.BeginString("FIX.4.4"))
        for tag, value in body:
            if tag == 35:
                message.getHeader().setField(fix.MsgType(value))
            else:
                message.setField(tag, value)
        assert self.session_id is not None
        fix.Session.sendToTarget(message, self.session_id)

    def skip_sequence(self, count: int) -> None:
        """The next message this acceptor sends jumps its MsgSeqNum by `count`."""
        assert self.session_id is not None
        session = fix.Session.lookupSession(self.session_id)
        session.setNextSenderMsgSeqNum(session.getExpectedSenderNum() + count)

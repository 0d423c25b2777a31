"""The demo organisation: departments, and people in the roles of the example apps (roles come with the apps),
and work already under way, so that the to-do lists are not empty."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from opsloom.designer import roles
from opsloom.platform import org
from opsloom.platform.context import RequestContext

DEMO_PASSWORD = "opsloom-demo"

DEPARTMENTS = [  # (key, name, parent key)
    ("hq", "总部 Head office", None),
    ("sales", "销售部 Sales", "hq"),
    ("engineering", "研发部 Engineering", "hq"),
    ("finance", "财务部 Finance", "hq"),
]

# (email, name, department key, is admin, heads department, {app: role keys}, description)
PEOPLE: list[tuple[str, str, str, bool, str | None, dict[str, tuple[str, ...]], str]] = [
    ("admin@opsloom.local", "系统管理员 Admin", "hq", True, None, {}, "platform admin"),
    (
        "vp@opsloom.local",
        "周总 Vice-president",
        "hq",
        False,
        "hq",
        {"procurement": ("approver", "vice_president"), "projects": ("pmo",)},
        "vice-president, heads HQ; the projects office",
    ),
    (
        "sales.head@opsloom.local",
        "李娜 Sales head",
        "sales",
        False,
        "sales",
        {"procurement": ("approver",)},
        "head of Sales",
    ),
    (
        "sales.manager@opsloom.local",
        "张伟 Sales manager",
        "sales",
        False,
        None,
        {"crm": ("sales_manager",), "procurement": ("requester",)},
        "CRM sales manager: large deals and contracts wait for him",
    ),
    (
        "sales.rep@opsloom.local",
        "王强 Sales rep",
        "sales",
        False,
        None,
        {"procurement": ("requester",), "crm": ("sales_rep",)},
        "requester in Sales; CRM sales rep",
    ),
    (
        "eng.head@opsloom.local",
        "陈杰 Engineering head",
        "engineering",
        False,
        "engineering",
        {"procurement": ("approver",), "projects": ("project_manager",)},
        "head of Engineering; project manager",
    ),
    (
        "engineer@opsloom.local",
        "Emma Engineer",
        "engineering",
        False,
        None,
        {"procurement": ("requester",), "projects": ("member",)},
        "requester in Engineering; project member",
    ),
    (
        "finance@opsloom.local",
        "刘洋 Finance",
        "finance",
        False,
        "finance",
        {"procurement": ("finance",), "crm": ("finance",), "inventory": ("warehouse_manager",)},
        "finance, sees all spend; CRM collections; approves large stock-outs",
    ),
    (
        "accountant@opsloom.local",
        "赵敏 Accountant",
        "finance",
        False,
        None,
        {"procurement": ("finance",), "crm": ("finance",), "inventory": ("storekeeper",)},
        "finance, countersigns with 刘洋; records payments and stock",
    ),
    (
        "buyer@opsloom.local",
        "孙丽 Buyer",
        "finance",
        False,
        None,
        {"procurement": ("buyer",)},
        "buyer: reviews new suppliers, runs RFQs, receives goods, checks invoices",
    ),
]


async def create_demo_people(session: AsyncSession) -> list[tuple[str, str]]:
    ctx = RequestContext.for_now()
    ids: dict[str, int] = {}
    for key, name, parent in DEPARTMENTS:
        created = await org.create_department(session, ctx, {"name": name, "parent_id": ids.get(parent or "")})
        ids[key] = created["id"]
    members: dict[tuple[str, str], list[int]] = {}
    for email, name, dept, admin, heads, app_roles, _ in PEOPLE:
        user = await org.create_user(
            session,
            ctx,
            {"email": email, "name": name, "password": DEMO_PASSWORD, "is_admin": admin, "department_id": ids[dept]},
        )
        if heads:
            await org.update_department(session, ctx, ids[heads], {"head_id": user["id"]})
        for app, role_keys in app_roles.items():
            for role in role_keys:
                members.setdefault((app, role), []).append(user["id"])
    for (app, role), user_ids in members.items():
        await roles.set_members(session, ctx, app, role, roles.MemberChange(add=tuple(user_ids)))
    return [(email, description) for email, *_, description in PEOPLE]


# Requests the demo people have already raised, so that the to-do lists are not empty:
# (requester's e-mail, title, supplier's name, [(item, qty, unit price)], submitted to the flow)
REQUESTS = [
    ("sales.rep@opsloom.local", "客户演示用投影仪", "华东办公用品有限公司", [("便携投影仪", 2, "4500.00")], True),
    ("engineer@opsloom.local", "GPU training server", "Northwind Computing", [("GPU server", 2, "68000.00")], True),
    (
        "sales.rep@opsloom.local",
        "展会物料",
        "华东办公用品有限公司",
        [("易拉宝", 4, "380.00"), ("宣传册", 500, "3.20")],
        False,
    ),
]


class _Desk:
    """Records written as one of the demo people, through the permission service and the flow engine."""

    def __init__(self, session: AsyncSession) -> None:
        from opsloom.runtime.flow.instances import FlowCache, Services
        from opsloom.runtime.forms import FormRegistry

        self.session = session
        self.services = Services(FormRegistry(), FlowCache())

    async def as_user(self, email: str) -> tuple[Any, RequestContext]:
        from opsloom.platform import tables
        from opsloom.platform.auth import principal_from_row

        u = tables.users
        user = (await self.session.execute(select(u).where(u.c.email == email))).one()
        return user, RequestContext.for_now(principal_from_row(user, via="session"))

    async def id_of(self, app: str, form_key: str, title: str) -> int | None:
        """A record's id by its title (sample records differ in id per install)."""
        form = await self.services.forms.get(self.session, app, form_key)
        found = await self.session.execute(select(form.table.c.id).where(form.title_column() == title).limit(1))
        return found.scalar()

    async def create(
        self, email: str, app: str, form_key: str, body: dict[str, Any], *, submit: bool = False
    ) -> dict[str, Any]:
        from opsloom.platform.permissions import form_access
        from opsloom.runtime import records
        from opsloom.runtime.flow.instances import Idempotency, submit_record
        from opsloom.runtime.flow.model import Submit

        user, ctx = await self.as_user(email)
        form = await self.services.forms.get(self.session, app, form_key)
        access = await form_access(self.session, ctx.principal, app, form_key)
        record = await records.create_record(self.session, form, ctx, body, access)
        if submit:
            idem = Idempotency.of(None, "POST", f"demo/{app}/{form_key}/{record['id']}/submit", {})
            await submit_record(self.session, ctx, self.services, form, access, record["id"], Submit(user.id), idem)
        return record


async def create_demo_requests(session: AsyncSession) -> int:
    """Raise the demo's purchase requests as their requesters, and submit those meant to be in review;
    and a supplier application of the engineer's, which waits for the buyer."""
    desk = _Desk(session)
    for email, title, supplier, items, submit in REQUESTS:
        department = "sales" if email.startswith("sales") else "engineering"
        body = {
            "title": title,
            "department": department,
            "category": "it" if department == "engineering" else "office",
            "supplier": await desk.id_of("procurement", "supplier", supplier),
            "items": [{"item": item, "qty": qty, "unit_price": price} for item, qty, price in items],
        }
        if title.startswith("GPU"):
            body["reason"] = "Model training for the new product line; the current machines are fully booked."
        await desk.create(email, "procurement", "purchase_request", body, submit=submit)
    # A new supplier the engineer proposes: it waits for the buyer's review.
    application = {
        "name": "深圳云芯科技有限公司",
        "category": "it",
        "contact": "黄敏",
        "email": "sales@yunxin.example",
        "expected_spend": "180000.00",
        "risk": "low",
    }
    await desk.create("engineer@opsloom.local", "procurement", "supplier_application", application, submit=True)
    return len(REQUESTS)


CRM_REP = "sales.rep@opsloom.local"
CRM_LINES = [  # (product, qty, unit price)
    ("MES 软件许可（产线）", 3, "120000.00"),
    ("实施服务（人天）", 90, "1500.00"),
]


async def create_demo_crm(session: AsyncSession) -> int:
    """The sales rep's own customer, lead, follow-up and payment plans, and a large opportunity and a contract
    submitted for review: both wait for the sales manager. Answer how many records wait."""
    desk = _Desk(session)
    rep, ctx = await desk.as_user(CRM_REP)
    today = ctx.now.date()
    customer = await desk.create(
        CRM_REP,
        "crm",
        "customer",
        {
            "name": "远航机械股份有限公司",
            "industry": "manufacturing",
            "level": "a",
            "owner": rep.id,
            "last_followed": today.isoformat(),
        },
    )
    await desk.create(
        CRM_REP,
        "crm",
        "lead",
        {
            "name": "孙涛",
            "company": "远航机械股份有限公司",
            "source": "trade_show",
            "stage": "converted",
            "owner": rep.id,
            "customer": customer["id"],
        },
    )
    await desk.create(
        CRM_REP,
        "crm",
        "follow_up",
        {
            "customer": customer["id"],
            "subject": "整厂 MES 需求调研",
            "method": "visit",
            "date": today.isoformat(),
            "next_date": (today + timedelta(days=7)).isoformat(),
        },
    )
    deal = await desk.create(
        CRM_REP,
        "crm",
        "opportunity",
        {
            "title": "远航机械整厂 MES",
            "customer": customer["id"],
            "stage": "negotiation",
            "amount": "1200000.00",
            "probability": 70,
            "expected_close": (today + timedelta(days=30)).isoformat(),
            "owner": rep.id,
        },
        submit=True,
    )
    contract = await desk.create(
        CRM_REP,
        "crm",
        "contract",
        {
            "title": "远航机械 MES 一期合同",
            "customer": customer["id"],
            "opportunity": deal["id"],
            "start_date": (today + timedelta(days=14)).isoformat(),
            "owner": rep.id,
            "items": [{"product": p, "qty": q, "unit_price": u} for p, q, u in CRM_LINES],
        },
        submit=True,
    )
    for period, days, share in (("预付款 30%", 15, "0.3"), ("验收款 70%", 120, "0.7")):
        await desk.create(
            CRM_REP,
            "crm",
            "payment_plan",
            {
                "contract": contract["id"],
                "period": period,
                "planned_date": (today + timedelta(days=days)).isoformat(),
                "planned_amount": str((Decimal(contract["total"]) * Decimal(share)).quantize(Decimal("0.01"))),
                "owner": rep.id,
            },
        )
    return len((deal, contract))  # both wait for the sales manager

"""The demo organisation: departments, and people in the procurement app's roles (roles come with the app)."""

from __future__ import annotations

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

PEOPLE = [  # (email, name, department key, is admin, heads department, role keys, description)
    ("admin@opsloom.local", "系统管理员 Admin", "hq", True, None, (), "platform admin"),
    (
        "vp@opsloom.local",
        "周总 Vice-president",
        "hq",
        False,
        "hq",
        ("approver", "vice_president"),
        "vice-president, heads HQ",
    ),
    ("sales.head@opsloom.local", "李娜 Sales head", "sales", False, "sales", ("approver",), "head of Sales"),
    ("sales.rep@opsloom.local", "王强 Sales rep", "sales", False, None, ("requester",), "requester in Sales"),
    (
        "eng.head@opsloom.local",
        "陈杰 Engineering head",
        "engineering",
        False,
        "engineering",
        ("approver",),
        "head of Engineering",
    ),
    ("engineer@opsloom.local", "Emma Engineer", "engineering", False, None, ("requester",), "requester in Engineering"),
    ("finance@opsloom.local", "刘洋 Finance", "finance", False, "finance", ("finance",), "finance, sees all spend"),
    (
        "accountant@opsloom.local",
        "赵敏 Accountant",
        "finance",
        False,
        None,
        ("finance",),
        "finance, countersigns with 刘洋",
    ),
]


async def create_demo_people(session: AsyncSession) -> list[tuple[str, str]]:
    ctx = RequestContext.for_now()
    ids: dict[str, int] = {}
    for key, name, parent in DEPARTMENTS:
        created = await org.create_department(session, ctx, {"name": name, "parent_id": ids.get(parent or "")})
        ids[key] = created["id"]
    members: dict[str, list[int]] = {}
    for email, name, dept, admin, heads, role_keys, _ in PEOPLE:
        user = await org.create_user(
            session,
            ctx,
            {"email": email, "name": name, "password": DEMO_PASSWORD, "is_admin": admin, "department_id": ids[dept]},
        )
        if heads:
            await org.update_department(session, ctx, ids[heads], {"head_id": user["id"]})
        for role in role_keys:
            members.setdefault(role, []).append(user["id"])
    for role, user_ids in members.items():
        await roles.set_members(session, ctx, "procurement", role, roles.MemberChange(add=tuple(user_ids)))
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


async def create_demo_requests(session: AsyncSession) -> int:
    """Raise the demo's purchase requests as their requesters, and submit those meant to be in review."""
    from sqlalchemy import select

    from opsloom.platform import tables
    from opsloom.platform.auth import principal_from_row
    from opsloom.platform.permissions import form_access
    from opsloom.runtime import records
    from opsloom.runtime.flow.instances import FlowCache, Idempotency, Services, submit_record
    from opsloom.runtime.flow.model import Submit
    from opsloom.runtime.forms import FormRegistry

    services = Services(FormRegistry(), FlowCache())
    form = await services.forms.get(session, "procurement", "purchase_request")
    suppliers = await services.forms.get(session, "procurement", "supplier")
    names = suppliers.table.c[suppliers.by_key["name"].column]
    u = tables.users
    for email, title, supplier, items, submit in REQUESTS:
        user = (await session.execute(select(u).where(u.c.email == email))).one()
        ctx = RequestContext.for_now(principal_from_row(user, via="session"))
        access = await form_access(session, ctx.principal, "procurement", "purchase_request")
        supplier_id = (await session.execute(select(suppliers.table.c.id).where(names == supplier))).scalar()
        department = "sales" if email.startswith("sales") else "engineering"
        body = {
            "title": title,
            "department": department,
            "category": "it" if department == "engineering" else "office",
            "supplier": supplier_id,
            "items": [{"item": item, "qty": qty, "unit_price": price} for item, qty, price in items],
        }
        if title.startswith("GPU"):
            body["reason"] = "Model training for the new product line; the current machines are fully booked."
        record = await records.create_record(session, form, ctx, body, access)
        if submit:
            event = Submit(user.id)
            idem = Idempotency.of(None, "POST", f"demo/{record['id']}/submit", {})
            await submit_record(session, ctx, services, form, access, record["id"], event, idem)
    return len(REQUESTS)

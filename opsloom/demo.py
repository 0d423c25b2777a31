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
        await roles.set_members(session, ctx, "procurement", role, user_ids, [])
    return [(email, description) for email, *_, description in PEOPLE]

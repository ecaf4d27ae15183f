"""Who may open a formation: its product's buyers (one access rule), never a non-buyer or a
refunded buyer; the outline shows ticks, locks with their reason, and what to continue."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from db.auth.tables import User
from db.billing.tables import Plan, Product, Purchase
from db.courses.tables import CourseModule, Formation, Lesson, LessonProgress
from server.domains.courses.queries import access_formation, formation_read
from tests.factories import as_user, make_user


async def _row(table: Any, **values: Any) -> dict[str, Any]:
    return (await table.insert(table(**values)).returning(*table.all_columns()))[0]


async def _formation(platform: str = "stam") -> dict[str, Any]:
    product = await _row(Product, platform=platform, name="Académie")
    plan = await _row(
        Plan, product=product["id"], name="Mensuel", price_cents=2900, interval="MONTHLY"
    )
    formation = await _row(
        Formation,
        platform=platform,
        product=product["id"],
        title="Bien démarrer",
        state="published",
    )
    first = await _row(CourseModule, formation=formation["id"], title="Module 1", position=0)
    second = await _row(
        CourseModule,
        formation=formation["id"],
        title="Module 2",
        position=1,
        rule="drip",
        rule_days=3,
    )
    lessons = [
        await _row(Lesson, module=first["id"], title="Bienvenue", position=0),
        await _row(Lesson, module=first["id"], title="Les bases", position=1),
        await _row(Lesson, module=second["id"], title="Aller plus loin", position=0),
        await _row(
            Lesson,
            module=second["id"],
            title="Le bilan",
            position=1,
            rule="after",
            rule_after_lesson=None,
        ),
    ]
    return {
        "product": product,
        "plan": plan,
        "formation": formation,
        "modules": [first, second],
        "lessons": lessons,
    }


async def _buy(
    user: dict[str, Any], f: dict[str, Any], status: str = "ACTIVE", **extra: Any
) -> None:
    await _row(
        Purchase,
        user=user["id"],
        product=f["product"]["id"],
        plan=f["plan"]["id"],
        status=status,
        current_period_end=datetime.now(UTC) + timedelta(days=30),
        **extra,
    )


async def test_a_non_buyer_and_a_refunded_buyer_get_403_over_http(make_client, login, db) -> None:
    f = await _formation()
    fid = f["formation"]["id"]
    stranger = await make_client("stam")
    await login(stranger, "stranger@example.com")
    answer = await stranger.get(f"/api/formations/{fid}")
    assert answer.status_code == 403
    assert answer.json()["error"]["code"] == "formation_access_required"
    assert (await stranger.get("/api/formations")).json() == []

    refunded = await make_client("stam")
    me = (await login(refunded, "refunded@example.com"))["user"]
    await _buy(me, f, status="REFUNDED")
    assert (await refunded.get(f"/api/formations/{fid}")).status_code == 403


async def test_a_buyer_sees_the_outline_with_a_drip_lock_and_continue(
    make_client, login, db
) -> None:
    f = await _formation()
    client = await make_client("stam")
    me = (await login(client, "buyer@example.com"))["user"]
    await _buy(me, f)
    client.headers["accept-language"] = "fr-FR,fr;q=0.9"
    outline = (await client.get(f"/api/formations/{f['formation']['id']}")).json()
    assert [m["title"] for m in outline["modules"]] == ["Module 1", "Module 2"]
    assert outline["modules"][0]["lock"] is None
    drip = outline["modules"][1]["lock"]
    assert drip["reason"] == "drip" and drip["message"] == "Disponible dans 3 jours"
    assert outline["next_lesson_id"] == f["lessons"][0]["id"]
    assert (outline["lessons_total"], outline["percent"]) == (4, 0)
    assert [x["id"] for x in (await client.get("/api/formations")).json()] == [outline["id"]]


async def test_progress_moves_continue_and_the_clock_opens_the_drip(db) -> None:
    f = await _formation()
    user = await make_user(platform="stam")
    await _buy(user, f)
    first, second = f["lessons"][0], f["lessons"][1]
    await _row(LessonProgress, user=user["id"], lesson=first["id"], completed_at=datetime.now(UTC))
    fa = await access_formation(as_user(user), f["formation"]["id"])
    now = datetime.now(UTC)
    outline = await formation_read(fa, now)
    assert (outline.lessons_done, outline.percent, outline.next_lesson_id) == (1, 25, second["id"])
    assert outline.modules[0].lessons[0].completed
    assert outline.modules[1].lock is not None
    assert all(x.lock is not None for x in outline.modules[1].lessons)
    later = await formation_read(fa, now + timedelta(days=3, minutes=1))
    assert later.modules[1].lock is None
    assert later.modules[1].lessons[0].lock is None


async def test_drafts_are_hidden_from_learners_and_previewed_by_staff(db) -> None:
    f = await _formation()
    await Formation.update({Formation.state: "draft"}).where(Formation.id == f["formation"]["id"])
    buyer = await make_user(platform="stam")
    await _buy(buyer, f)
    owner = await make_user(platform="stam", role="owner")
    from server.errors import NotFound

    try:
        await access_formation(as_user(buyer), f["formation"]["id"])
    except NotFound as exc:
        assert exc.code == "formation_not_found"
    else:
        raise AssertionError("a learner opened a draft")
    fa = await access_formation(as_user(owner), f["formation"]["id"])
    outline = await formation_read(fa)
    assert outline.state == "draft" and all(m.lock is None for m in outline.modules)


async def test_another_platform_does_not_see_it(db) -> None:
    f = await _formation(platform="stam")
    other = await make_user(platform="weokto", role="owner")
    from server.errors import NotFound

    try:
        await access_formation(as_user(other), f["formation"]["id"])
    except NotFound:
        return
    raise AssertionError("a WEOKTO owner opened a STAM formation")


_ = User

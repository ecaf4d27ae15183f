"""Saving progress: the position is kept across devices, 90% completes a video lesson, a
module's completion is recorded once, locked lessons refuse saves, and every save is pushed
to the learner's other tabs (the event captured and decoded)."""

from __future__ import annotations

from db.courses.tables import Lesson, ModuleCompletion
from server.domains.courses.actions import check_complete, check_save_position
from server.errors import Forbidden
from tests.courses.test_formation_access import _buy, _formation
from tests.factories import as_user, make_user


async def _learner_with_video() -> tuple[dict, dict]:
    f = await _formation()
    for lesson in f["lessons"]:
        await Lesson.update({Lesson.duration_s: 100}).where(Lesson.id == lesson["id"])
    user = await make_user(platform="stam")
    await _buy(user, f)
    return f, user


async def test_position_is_saved_and_ninety_percent_completes(db, captured_events) -> None:
    f, user = await _learner_with_video()
    lesson = f["lessons"][0]["id"]
    saved = await check_save_position(as_user(user), lesson, 42)
    assert (saved.position_s, saved.furthest_s, saved.completed) == (42, 42, False)
    back = await check_save_position(as_user(user, "other-device"), lesson, 10)
    assert (back.position_s, back.furthest_s) == (10, 42)
    done = await check_save_position(as_user(user), lesson, 90)
    assert done.completed and done.formation_percent == 25
    again = await check_save_position(as_user(user), lesson, 3)
    assert again.completed and again.position_s == 3
    pushed = [e for e in captured_events if e["event"] == "course_progress"]
    assert [e["room"] for e in pushed] == [f"user:{user['id']}"] * 4
    assert pushed[2]["payload"] == {
        "type": "course_progress",
        "progress": {
            "formation_id": f["formation"]["id"],
            "lesson_id": lesson,
            "position_s": 90,
            "furthest_s": 90,
            "completed": True,
            "formation_percent": 25,
            "module_completed": False,
        },
    }


async def test_completing_the_module_is_recorded_once(db) -> None:
    f, user = await _learner_with_video()
    first, second = f["lessons"][0]["id"], f["lessons"][1]["id"]
    assert not (await check_complete(as_user(user), first)).module_completed
    result = await check_complete(as_user(user), second)
    assert result.module_completed and result.formation_percent == 50
    assert not (await check_complete(as_user(user), second)).module_completed
    assert await ModuleCompletion.count().where(ModuleCompletion.user == user["id"]) == 1


async def test_a_locked_lesson_refuses_saves_and_a_stranger_too(db) -> None:
    f, user = await _learner_with_video()
    dripped = f["lessons"][2]["id"]
    try:
        await check_save_position(as_user(user), dripped, 5)
    except Forbidden as exc:
        assert exc.code == "lesson_locked"
    else:
        raise AssertionError("a dripped lesson accepted a save")
    stranger = await make_user(platform="stam")
    try:
        await check_complete(as_user(stranger), f["lessons"][0]["id"])
    except Forbidden as exc:
        assert exc.code == "formation_access_required"
    else:
        raise AssertionError("a non-buyer completed a lesson")


async def test_bad_input_gets_a_4xx_over_http(make_client, login, db) -> None:
    f, _ = await _learner_with_video()
    client = await make_client("stam")
    await login(client, "saver@example.com")
    lesson = f["lessons"][0]["id"]
    for body in ({"position_s": -1}, {"position_s": "x"}, {"nope": 1}, {}):
        answer = await client.put(f"/api/lessons/{lesson}/progress", json=body)
        assert answer.status_code == 400, (body, answer.text)
    assert (
        await client.put("/api/lessons/999999/progress", json={"position_s": 1})
    ).status_code == 404
    forbidden = await client.post(f"/api/lessons/{lesson}/complete")
    assert forbidden.status_code == 403

"""A member buys through a payment button page and the emulator's hosted checkout."""

from __future__ import annotations

import asyncio

from tests.e2e.conftest import SHOTS, sign_in_page


async def _paid_club(slug: str) -> str:
    """A premium guild sold by a payment button; returns the button key."""
    from db.billing.tables import PaymentButton, Plan, Product
    from tests.factories import make_channel, make_guild

    guild = await make_guild(slug=slug, tier="premium")
    await make_channel(guild["id"], name="vip", requires_paid=True)
    product = (
        await Product.insert(
            Product(platform="weokto", name="Paid Club", guild=guild["id"])
        ).returning(Product.id)
    )[0]["id"]
    plan = (
        await Plan.insert(
            Plan(product=product, name="Monthly", price_cents=1500, interval="MONTHLY")
        ).returning(Plan.id)
    )[0]["id"]
    key = f"{slug}-monthly"
    await PaymentButton.insert(
        PaymentButton(
            button_key=key,
            product=product,
            plan=plan,
            display_name="Join Paid Club",
            cta_text="Join for 15 EUR",
            success_url="https://example.com/ok",
            cancel_url="https://example.com/no",
        )
    )
    return key


async def _pay(page, base: str, stripe_emulator: str, key: str, email: str) -> None:
    """From the button page through the emulator's checkout to our success page."""
    await page.goto(f"{base}/pay/{key}")
    assert "€15.00" in await page.get_by_test_id("pay-price").inner_text()
    await page.get_by_test_id("pay-button").click()
    await page.wait_for_url(f"{stripe_emulator}/checkout/**")
    if not await page.input_value("#email"):
        await page.fill("#email", email)
    await page.fill("#card", "4242 4242 4242 4242")
    await page.click("#pay")
    try:
        await page.wait_for_url("**/checkout/success?session_id=*")
    except Exception:
        await page.screenshot(path=str(SHOTS / "checkout-stuck.png"), full_page=True)
        raise


async def _confirmed(page) -> None:
    await page.wait_for_function(
        "document.querySelector('[data-testid=checkout-title]').textContent.includes('confirmed')",
        timeout=20000,
    )
    assert "confirmed" in (await page.get_by_test_id("checkout-title").inner_text()).lower()


async def test_buying_through_the_button_page_and_the_emulators_checkout(
    browser, live_server, read_mail, stripe_emulator
):
    """A signed-in member pays with 4242 on the emulator's page and sees the confirmation."""
    from db.auth.tables import User

    key = await _paid_club("paid-club")
    context = await browser.new_context()
    page = await context.new_page()
    email = "shopper@example.com"
    await sign_in_page(page, live_server.weokto_url, email, read_mail)
    await _pay(page, live_server.weokto_url, stripe_emulator, key, email)
    await _confirmed(page)
    user = await User.select(User.id).where(User.email == email).first()
    assert user is not None
    await page.screenshot(path=str(SHOTS / "checkout-confirmed.png"), full_page=True)
    await context.close()


async def test_the_confirmation_shows_when_the_push_came_before_the_page_listened(
    browser, live_server, read_mail, stripe_emulator
):
    """The page's script arrives late: by then the socket (opened by the layout's session
    script) is connected and the payment push has gone by. The page must still confirm, from
    the status it reads once connected, instead of waiting for a connect that already happened."""
    from db.auth.tables import User
    from db.billing.tables import Purchase

    key = await _paid_club("late-club")
    context = await browser.new_context()
    page = await context.new_page()
    email = "late-shopper@example.com"
    await sign_in_page(page, live_server.weokto_url, email, read_mail)

    async def paid() -> bool:
        user = await User.select(User.id).where(User.email == email).first()
        if user is None:
            return False
        row = await Purchase.select(Purchase.status).where(Purchase.user == user["id"]).first()
        return row is not None and row["status"] == "ACTIVE"

    async def late_script(route) -> None:
        for _ in range(100):  # until the payment is processed (and pushed), at most 10 s
            if await paid():
                break
            await asyncio.sleep(0.1)
        await asyncio.sleep(1.0)  # and the socket has long connected
        await route.continue_()

    await page.route("**/static/js/checkout_success.js", late_script)
    await _pay(page, live_server.weokto_url, stripe_emulator, key, email)
    assert await paid()
    await _confirmed(page)
    await context.close()

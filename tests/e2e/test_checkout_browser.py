"""A member buys through a payment button page and the emulator's hosted checkout."""
from __future__ import annotations

from tests.e2e.conftest import SHOTS, sign_in_page


async def test_buying_through_the_button_page_and_the_emulators_checkout(
        browser, live_server, read_mail, stripe_emulator):
    """A signed-in member pays with 4242 on the emulator's page and sees the confirmation."""
    from db.auth.tables import User
    from db.billing.tables import PaymentButton, Plan, Product
    from tests.factories import make_channel, make_guild

    guild = await make_guild(slug="paid-club", tier="premium")
    await make_channel(guild["id"], name="vip", requires_paid=True)
    product = (await Product.insert(Product(platform="weokto", name="Paid Club", guild=guild["id"]))
               .returning(Product.id))[0]["id"]
    plan = (await Plan.insert(Plan(product=product, name="Monthly", price_cents=1500,
                                   interval="MONTHLY")).returning(Plan.id))[0]["id"]
    await PaymentButton.insert(PaymentButton(
        button_key="paid-club-monthly", product=product, plan=plan, display_name="Join Paid Club",
        cta_text="Join for 15 EUR", success_url="https://example.com/ok",
        cancel_url="https://example.com/no"))
    context = await browser.new_context()
    page = await context.new_page()
    email = "shopper@example.com"
    await sign_in_page(page, live_server.weokto_url, email, read_mail)
    await page.goto(f"{live_server.weokto_url}/pay/paid-club-monthly")
    assert "15.00 EUR" in await page.get_by_test_id("pay-price").inner_text()
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
    title = page.get_by_test_id("checkout-title")
    await page.wait_for_function(
        "document.querySelector('[data-testid=checkout-title]').textContent.includes('confirmed')",
        timeout=20000)
    assert "confirmed" in (await title.inner_text()).lower()
    user = await User.select(User.id).where(User.email == email).first()
    assert user is not None
    await page.screenshot(path=str(SHOTS / "checkout-confirmed.png"), full_page=True)
    await context.close()

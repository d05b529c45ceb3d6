// The console of `journey serve` and the report of `journey simulate --report-html` in a real
// browser: headless Chromium (Debian's) driven over the DevTools protocol (support/chromium.hpp),
// against the real daemon on a loopback port. Each test keeps screenshots of what it saw in
// the build folder's test-artifacts/.
#include <catch2/catch.hpp>

#include "cli/serve_support.hpp"
#include "support/chromium.hpp"

namespace {

using namespace journey::test::serve;
using journey::test::Chromium;

const fs::path kArtifacts = JOURNEY_ARTIFACTS_DIR;

constexpr const char* kWelcome = R"(journey welcome {
  entry on signup
  goal first_order: order_completed within 7d
  send email "welcome-1"
  wait up to 3d {
    on order_completed { send email "thanks"; exit "bought" }
  }
  coupon_test: split {
    50% control { }
    50% coupon { send email "welcome-coupon" }
  }
  reminder: send push "come-back"
}
)";

std::string signup(const std::string& customer, bool consent) {
  const auto traits = consent ? R"("consent":{"email":true,"push":true})" : "";
  return R"({"batch":[{"type":"identify","userId":")" + customer + R"(","messageId":")" + customer +
         R"(-i","traits":{)" + traits +
         R"(}},{"type":"track","event":"signup",)"
         R"("userId":")" +
         customer + R"(","messageId":")" + customer + R"(-s"}]})";
}

/// The text of the element matching a CSS selector ("" when none).
std::string text_of(Chromium& browser, const std::string& selector) {
  return browser
      .evaluate("(document.querySelector(" + json(selector).dump() +
                ") || {textContent: ''}).textContent")
      .get<std::string>();
}

}  // namespace

TEST_CASE("console: shows journeys, a canvas whose counts change live, a customer", "[browser]") {
  TempDir dir;
  dir.write("journeys/welcome.journey", kWelcome);
  DaemonProcess daemon(dir, {"--listen", "127.0.0.1:0", "--journeys", "journeys"});
  REQUIRE(daemon.started());
  Chromium browser(JOURNEY_CHROMIUM);

  // The journeys page: the journey, its live version and when it was deployed.
  browser.navigate(daemon.url("/ui"));
  CHECK(browser.evaluate("document.title").get<std::string>() == "Journeys - journey");
  CHECK_THAT(text_of(browser, "table.journeys"), Catch::Contains("welcome"));
  CHECK_THAT(text_of(browser, "table.journeys"), Catch::Contains("live"));
  CHECK_THAT(text_of(browser, ".check"), Catch::Contains("at start"));
  browser.screenshot(kArtifacts / "console-journeys.png");

  // The canvas: a box per step, nobody in it yet.
  browser.navigate(daemon.url("/ui/journeys/welcome"));
  const auto steps =
      browser.evaluate("Array.from(document.querySelectorAll('.canvas g.step')).map(g => g.id)");
  REQUIRE(steps.size() >= 6);  // entry, send, wait up to, split, send in coupon, reminder, ...
  CHECK(
      browser.wait_for("document.querySelector('.canvas svg').textContent.includes('welcome-1')"));
  CHECK(browser.wait_for("document.querySelector('.canvas').textContent.includes('0 entered')"));
  CHECK_THAT(text_of(browser, ".chart"), Catch::Contains("No one has entered yet"));

  // Events posted while the page is open show without a reload: the marker set in this page
  // survives, and the counts change.
  browser.evaluate("window.stillThisPage = true");
  REQUIRE(call("POST", daemon.url("/v1/batch"), signup("c1", true)).status == 200);
  REQUIRE(call("POST", daemon.url("/v1/batch"), signup("c2", false)).status == 200);
  CHECK(browser.wait_for("document.querySelector('.canvas').textContent.includes('2 entered')"));
  CHECK(browser.wait_for(
      "document.querySelector('.canvas').textContent.includes('2 in the journey now')"));
  CHECK(browser.wait_for("document.querySelector('.canvas').textContent.includes('1 sent')"));
  CHECK(browser.wait_for("document.querySelector('.canvas').textContent.includes('consent 1')"));
  CHECK(
      browser.wait_for("document.querySelector('.canvas').textContent.includes('2 waiting now')"));
  CHECK(browser.evaluate("window.stillThisPage === true") == true);
  CHECK(browser.evaluate("Number(document.querySelector('[data-live]').dataset.refreshed) > 0") ==
        true);
  browser.screenshot(kArtifacts / "console-journey.png");

  // A customer: profile, the run, the actions, the timeline; an action's link opens its step.
  browser.navigate(daemon.url("/ui/customers?id=c1"));
  CHECK_THAT(text_of(browser, "table.profile"), Catch::Contains("consent"));
  CHECK_THAT(text_of(browser, "table.runs"), Catch::Contains("welcome"));
  CHECK_THAT(text_of(browser, "table.actions"), Catch::Contains("welcome-1"));
  CHECK_THAT(text_of(browser, "table.actions"), Catch::Contains("sent"));
  CHECK_THAT(text_of(browser, "table.timeline"), Catch::Contains("event signup received"));
  browser.screenshot(kArtifacts / "console-customer.png");
  browser.evaluate("document.querySelector('table.actions a.step-link').click()");
  CHECK(browser.wait_for("location.pathname === '/ui/journeys/welcome'"));
  CHECK(browser.wait_for("document.querySelector(':target') !== null"));
  CHECK(browser.evaluate("document.querySelector(':target').classList.contains('step')") == true);
  CHECK_THAT(browser.evaluate("document.querySelector(':target').textContent").get<std::string>(),
             Catch::Contains("welcome-1"));

  // An unknown customer says so.
  browser.navigate(daemon.url("/ui/customers?id=nobody"));
  CHECK_THAT(text_of(browser, "main"), Catch::Contains("No customer nobody"));

  // A new version while both customers wait in the old one: the two are drawn side by side,
  // and the journeys page lists both.
  std::string changed = kWelcome;
  changed.replace(changed.find("welcome-1"), 9, "welcome-first");
  dir.write("journeys/welcome.journey", changed);
  REQUIRE(call("POST", daemon.url("/v1/journeys/reload")).status == 200);
  browser.navigate(daemon.url("/ui/journeys/welcome"));
  CHECK(browser.evaluate("document.querySelectorAll('section.version').length") == 2);
  CHECK_THAT(text_of(browser, "main"), Catch::Contains("older version, 2 still in it"));
  CHECK_THAT(text_of(browser, "main"), Catch::Contains("welcome-first"));
  browser.screenshot(kArtifacts / "console-versions.png");
  browser.navigate(daemon.url("/ui"));
  CHECK(browser.evaluate("document.querySelectorAll('table.journeys tr[data-version]').length") ==
        2);
}

TEST_CASE("console: asks for a token and keeps it for the session only", "[browser]") {
  TempDir dir;
  dir.write("journeys/welcome.journey", kWelcome);
  dir.write("journey.toml", R"(
[[tokens]]
token = "read-token"
scopes = ["read"]
[[tokens]]
token = "ingest-token"
scopes = ["ingest"]
)");
  DaemonProcess daemon(dir, {"--config", "journey.toml", "--listen", "127.0.0.1:0"});
  REQUIRE(daemon.started());
  Chromium browser(JOURNEY_CHROMIUM);
  const auto sign_in = [&](const std::string& token) {
    // The marker goes with this document: its absence says the answer's page has loaded.
    browser.evaluate(
        "window.beforeSignIn = true; document.querySelector('input[name=token]')"
        ".value = " +
        json(token).dump() + "; document.querySelector('form.login').submit(); true");
    CHECK(browser.wait_for(
        "window.beforeSignIn === undefined && document.readyState === 'complete'"));
  };

  browser.navigate(daemon.url("/ui/journeys/welcome"));
  REQUIRE(browser.wait_for("document.querySelector('form.login') !== null"));
  browser.screenshot(kArtifacts / "console-sign-in.png");

  sign_in("ingest-token");
  CHECK(browser.wait_for("document.body.textContent.includes('lacks the `read` scope')"));
  sign_in("wrong");
  CHECK(browser.wait_for("document.body.textContent.includes('not known')"));
  sign_in("read-token");
  // Back on the page asked for, with its canvas; the token is not readable by scripts.
  CHECK(browser.wait_for("location.pathname === '/ui/journeys/welcome'"));
  CHECK(browser.wait_for("document.querySelectorAll('.canvas g.step').length > 0"));
  CHECK(browser.evaluate("document.cookie") == "");

  browser.evaluate("document.querySelector('header form button').click(); true");
  CHECK(browser.wait_for("document.querySelector('form.login') !== null"));
  browser.navigate(daemon.url("/ui"));
  CHECK(browser.wait_for("document.querySelector('form.login') !== null"));
}

TEST_CASE("report: the dry-run report opens from a file with the network off", "[browser]") {
  TempDir dir;
  dir.write("journeys/welcome.journey", kWelcome);
  dir.write(
      "events.ndjson",
      R"({"type":"identify","userId":"a","timestamp":"2026-01-01T09:00:00Z","traits":{"consent":{"email":true,"push":true}}}
{"type":"track","event":"signup","userId":"a","timestamp":"2026-01-01T10:00:00Z"}
{"type":"track","event":"signup","userId":"b","timestamp":"2026-01-01T10:00:00Z"}
{"type":"track","event":"order_completed","userId":"a","timestamp":"2026-01-02T10:00:00Z"}
)");
  const auto report = dir.path / "report.html";
  const auto command =
      std::string(JOURNEY_BINARY) + " simulate " + (dir.path / "journeys").string() + " --events " +
      (dir.path / "events.ndjson").string() + " --report-html " + report.string() + " > /dev/null";
  REQUIRE(std::system(command.c_str()) == 0);
  REQUIRE(fs::exists(report));

  Chromium browser(JOURNEY_CHROMIUM);
  std::vector<std::string> requested;
  browser.on_event = [&](const json& event) {
    if (event.value("method", "") == "Network.requestWillBeSent") {
      requested.push_back(event["params"]["request"].value("url", ""));
    }
  };
  browser.send("Network.enable");
  browser.send(
      "Network.emulateNetworkConditions",
      {{"offline", true}, {"latency", 0}, {"downloadThroughput", 0}, {"uploadThroughput", 0}});
  browser.navigate("file://" + report.string());
  // The entry, the seven steps of the script and the end.
  CHECK(browser.evaluate("document.querySelectorAll('.canvas g.step').length") == 9);
  CHECK_THAT(text_of(browser, ".canvas"), Catch::Contains("2 entered"));
  CHECK_THAT(text_of(browser, ".canvas"), Catch::Contains("bought 1"));
  CHECK_THAT(text_of(browser, ".chart"), Catch::Contains(" of "));
  CHECK(browser.evaluate("document.querySelectorAll('script').length") == 0);
  browser.screenshot(kArtifacts / "report.png");
  for (const auto& url : requested) {
    INFO(url);
    CHECK((url.rfind("file://", 0) == 0 || url.rfind("data:", 0) == 0));
  }
}

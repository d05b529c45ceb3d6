// The Content-Length framing (runtime/lsp/framing.hpp): whole frames from bytes in any pieces,
// and an error (never a crash, never a stuck stream) for a frame that cannot be taken.
#include "runtime/lsp/framing.hpp"

#include <catch2/catch.hpp>

using journey::lsp::frame;
using journey::lsp::FrameReader;

TEST_CASE("framing: a frame written comes back whole, fed a byte at a time or all at once") {
  const std::string bytes = frame(R"({"jsonrpc":"2.0","method":"x"})") + frame("{}");
  CHECK(bytes.rfind("Content-Length: 30\r\n\r\n{", 0) == 0);
  FrameReader one_by_one(1000);
  std::vector<std::string> bodies;
  for (const char c : bytes) {
    one_by_one.feed(std::string_view(&c, 1));
    while (auto f = one_by_one.next()) {
      REQUIRE(f->error.empty());
      bodies.push_back(f->body);
    }
  }
  CHECK(bodies == std::vector<std::string>{R"({"jsonrpc":"2.0","method":"x"})", "{}"});
  FrameReader whole(1000);
  whole.feed(bytes);
  CHECK(whole.next()->body == bodies[0]);
  CHECK(whole.next()->body == bodies[1]);
  CHECK_FALSE(whole.next());
  CHECK_FALSE(whole.pending());
}

TEST_CASE("framing: other headers are ignored, the name's case does not matter") {
  FrameReader r(1000);
  r.feed("content-length: 2\r\nContent-Type: application/vscode-jsonrpc; charset=utf-8\r\n\r\n{}");
  const auto f = r.next();
  REQUIRE(f);
  CHECK(f->body == "{}");
}

TEST_CASE("framing: a malformed header is an error for that frame, and the next one is read") {
  for (const std::string header : {"Content-Type: x\r\n\r\n", "Content-Length: ten\r\n\r\n",
                                   "Content-Length: -1\r\n\r\n", "garbage\r\n\r\n"}) {
    INFO(header);
    FrameReader r(1000);
    r.feed(header + frame("{}"));
    const auto bad = r.next();
    REQUIRE(bad);
    CHECK(bad->error.rfind("malformed message header", 0) == 0);
    const auto good = r.next();
    REQUIRE(good);
    CHECK(good->body == "{}");
  }
}

TEST_CASE("framing: a body over the limit is skipped as it arrives, with an error") {
  FrameReader r(100);
  r.feed("Content-Length: 1000\r\n\r\n" + std::string(400, 'x'));
  const auto big = r.next();
  REQUIRE(big);
  CHECK(big->error == "a message of 1000 bytes is larger than the limit of 100 bytes");
  CHECK_FALSE(r.next());
  r.feed(std::string(600, 'x') + frame("{}"));  // the rest of it, then a good frame
  const auto good = r.next();
  REQUIRE(good);
  CHECK(good->body == "{}");
}

TEST_CASE("framing: bytes that never end a header are dropped past a bound") {
  FrameReader r(100);
  r.feed(std::string(FrameReader::kMaxHeader, 'x'));
  CHECK_FALSE(r.next());  // still possibly a header
  r.feed("x");
  const auto bad = r.next();
  REQUIRE(bad);
  CHECK(bad->error == "a header longer than 8192 bytes");
  r.feed(frame("{}"));
  CHECK(r.next()->body == "{}");
}

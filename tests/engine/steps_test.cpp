// Step ids and names (issue 17): unlabelled steps are named by their place in the step tree, so
// that comments, blank lines, layout and where a journey sits in its file change nothing (the
// property over every `.journey` of the repository); the old naming by line and column stays for
// versions stored by older builds, with their hashes.
#include <filesystem>
#include <fstream>
#include <map>
#include <set>
#include <sstream>

#include <catch2/catch.hpp>

#include "dsl/fmt.hpp"
#include "dsl/workspace.hpp"
#include "engine/engine.hpp"
#include "engine/ids.hpp"
#include "engine/program.hpp"
#include "engine/state.hpp"
#include "engine_support.hpp"

namespace je = journey::engine;
namespace jd = journey::dsl;
namespace fs = std::filesystem;

using journey::test::at;
using journey::test::build;

namespace {

std::string read_file(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream out;
  out << in.rdbuf();
  return out.str();
}

/// The purchase model of the examples, which the journeys on p_alive() and the other predictive
/// functions are checked against and run with.
const je::PurchaseModel& example_model() {
  static const je::PurchaseModel model = [] {
    const auto read = je::read_model(
        nlohmann::json::parse(read_file(fs::path(JOURNEY_SOURCE_DIR) / "examples/model.json")));
    REQUIRE(read.model);
    return *read.model;
  }();
  return model;
}

/// Files (path, text) compiled together with a naming; null when they have errors.
std::shared_ptr<const je::Program> compile_files(
    const std::vector<std::pair<std::string, std::string>>& files,
    je::StepNaming naming = je::StepNaming::Tree) {
  jd::Workspace ws;
  for (const auto& [path, text] : files) jd::add_source(ws, path, text);
  jd::CheckOptions options;
  options.model = je::model_facts(example_model());
  jd::check(ws, options);
  if (ws.has_errors()) return nullptr;
  return je::compile(ws, naming).program;
}

std::vector<std::string> ids_of(const je::Journey& j) {
  std::vector<std::string> out;
  for (const auto& s : j.steps) out.push_back(s.id);
  return out;
}

std::vector<std::string> names_of(const je::Journey& j) {
  std::vector<std::string> out;
  for (const auto& s : j.steps) out.push_back(s.name);
  return out;
}

// The edits that change no behaviour, each applied to a whole file.
std::string reindented(const std::string& text) {
  std::istringstream in(text);
  std::string out;
  std::string line;
  while (std::getline(in, line)) {
    const auto first = line.find_first_not_of(" \t");
    out += first == std::string::npos ? "\n" : "\t  " + line.substr(first) + "   \n";
  }
  return out;
}

std::string commented(const std::string& text) {
  std::istringstream in(text);
  std::string out = "# a comment at the top\n\n";
  std::string line;
  while (std::getline(in, line)) {
    out += "  # a comment line before\n\n";
    out += line;
    if (line.find('#') == std::string::npos && line.find('"') == std::string::npos)
      out += "  # and one at the end";
    out += "\n";
  }
  return out;
}

std::string moved(const std::string& text, bool first_file) {
  return "\n\n\n# Something else first.\n" +
         std::string(first_file ? "segment zz_moved_down_by_the_test = true\n" : "") + "\n\n" +
         text;
}

// Every folder of the repository holding `.journey` files, with the files that compile together.
std::map<fs::path, std::vector<std::pair<std::string, std::string>>> repository_journeys() {
  std::map<fs::path, std::vector<std::pair<std::string, std::string>>> out;
  const fs::path root = JOURNEY_SOURCE_DIR;
  for (auto it = fs::recursive_directory_iterator(root); it != fs::recursive_directory_iterator();
       ++it) {
    const auto name = it->path().filename().string();
    if (it->is_directory() && (name == "build" || name.rfind('.', 0) == 0)) {
      it.disable_recursion_pending();
      continue;
    }
    if (it->is_regular_file() && it->path().extension() == ".journey")
      out[it->path().parent_path()].emplace_back(it->path().string(), read_file(it->path()));
  }
  return out;
}

}  // namespace

TEST_CASE("unlabelled steps are named by their place in the step tree", "[steps]") {
  const auto p = build(R"(journey w {
  entry on signup
  send email "a"
  wait up to 3d {
    on order { send email "thanks"; exit }
    timeout { send email "nudge" }
  }
  test: split {
    50% a { wait 1d; send sms "x" }
    50% b { }
  }
  if customer.vip == true { tag "vip" } else if customer.tier == 2 { tag "two" } else { untag "vip" }
  reminder_1: send email "r"
  wait 23h
}
)");
  const auto& j = p->journeys[0];
  CHECK(ids_of(j) == std::vector<std::string>{"1", "2", "2.on1.1", "2.on1.2", "2.timeout.1", "test",
                                              "test.a.1", "test.a.2", "4", "4.if1.1", "4.if2.1",
                                              "4.else.1", "reminder_1", "6"});
  CHECK(names_of(j) ==
        std::vector<std::string>{
            "send email \"a\"", "wait up to 3d after send email \"a\"",
            "send email \"thanks\" on order of wait up to 3d", "exit after send email \"thanks\"",
            "send email \"nudge\" on timeout of wait up to 3d", "split a/b at test",
            "wait 1d in variant a", "send sms \"x\" after wait 1d",
            "if customer.vip == true after test", "tag \"vip\" if customer.vip == true",
            "tag \"two\" else if customer.tier == 2",
            "untag \"vip\" in else of if customer.vip == true", "send email \"r\" at reminder_1",
            "wait 23h after reminder_1"});
  // The ops carry the ids; the states name the wait points by them.
  CHECK(j.ops[0].step_id == "1");
  CHECK(j.steps[j.ops[0].step].name == "send email \"a\"");
  CHECK(je::step_name(j, "test.a.1") == "wait 1d in variant a");
  CHECK(je::step_name(j, "end") == "end");
}

TEST_CASE("names stay unique and long conditions are cut", "[steps]") {
  const auto p = build(R"(journey w {
  entry on signup
  wait up to 1d {
    on order { exit }
  }
  wait up to 1d {
    on order { exit }
  }
  if customer.a_very_long_attribute_name == "a very long value indeed, really" { exit }
}
)");
  const auto names = names_of(p->journeys[0]);
  CHECK(names[1] == "exit on order of wait up to 1d");
  CHECK(names[2] == "wait up to 1d after wait up to 1d");
  CHECK(names[3] == "exit on order of wait up to 1d (2)");
  CHECK(names[4] == "if customer.a_very_long_attribute_name == \"a ver... after wait up to 1d");
  CHECK(std::set<std::string>(names.begin(), names.end()).size() == names.size());
}

TEST_CASE("what changes no behaviour changes no version, id, name or variant", "[property]") {
  std::size_t journeys = 0;
  for (const auto& [folder, files] : repository_journeys()) {
    // The files of a folder together when they compile so (segments shared across files), else
    // each file that compiles alone (the lint goldens hold errors on purpose).
    std::vector<std::vector<std::pair<std::string, std::string>>> sets;
    const auto folder_name = folder.filename().string();
    if (folder_name == "stdlib-journeys") {
      INFO(folder.string());
      REQUIRE(compile_files(files));  // none of them left out
    }
    if (compile_files(files)) {
      sets.push_back(files);
    } else {
      for (const auto& f : files) {
        if (compile_files({f})) sets.push_back({f});
      }
    }
    for (const auto& set : sets) {
      const auto original = compile_files(set);
      jd::Workspace parsed;
      for (const auto& [path, text] : set) jd::add_source(parsed, path, text);
      const std::vector<std::pair<std::string, std::function<std::string(std::size_t)>>> edits = {
          {"fmt",
           [&](std::size_t i) {
             return jd::format(*parsed.files[i].source, parsed.files[i].module);
           }},
          {"re-indent", [&](std::size_t i) { return reindented(set[i].second); }},
          {"comments", [&](std::size_t i) { return commented(set[i].second); }},
          {"moved down", [&](std::size_t i) { return moved(set[i].second, i == 0); }}};
      for (const auto& [edit, apply] : edits) {
        std::vector<std::pair<std::string, std::string>> changed = set;
        for (std::size_t i = 0; i < set.size(); ++i) changed[i].second = apply(i);
        INFO(folder.string() << ", " << edit);
        const auto after = compile_files(changed);
        REQUIRE(after);
        REQUIRE(after->journeys.size() == original->journeys.size());
        for (std::size_t k = 0; k < original->journeys.size(); ++k) {
          const auto& a = original->journeys[k];
          const auto& b = after->journeys[k];
          INFO("journey " << a.name);
          CHECK(a.version == b.version);
          CHECK(ids_of(a) == ids_of(b));
          CHECK(names_of(a) == names_of(b));
          for (std::size_t o = 0; o < a.ops.size(); ++o) {
            CHECK(a.ops[o].step_id == b.ops[o].step_id);
            if (const auto* split = std::get_if<je::SplitOp>(&a.ops[o].payload)) {
              for (int c = 0; c < 50; ++c) {
                const std::string customer = "c" + std::to_string(c);
                CHECK(je::split_variant(customer, a.name, a.ops[o].step_id, split->variants) ==
                      je::split_variant(customer, b.name, b.ops[o].step_id,
                                        std::get<je::SplitOp>(b.ops[o].payload).variants));
              }
            }
          }
          // The actions of a run through each journey: ids, steps and variants alike.
          for (const auto& entry : a.entries) {
            if (entry.kind != jd::EntryKind::On) continue;
            std::vector<std::string> lines[2];
            int side = 0;
            for (const auto& program : {original, after}) {
              je::EngineConfig config;
              config.consent_assumed = true;
              config.model = example_model();
              je::Engine engine(config);
              engine.deploy(program);
              auto state = je::new_customer("c1");
              je::Event e;
              e.customer_id = "c1";
              e.name = entry.event;
              e.at = at("2026-01-05T10:00:00Z");
              for (auto& o : engine.on_event(*state, e).actions)
                lines[side].push_back(je::to_json_line(o));
              for (auto& o : engine.on_time(*state, at("2027-01-01T00:00:00Z")).actions)
                lines[side].push_back(je::to_json_line(o));
              ++side;
            }
            CHECK(lines[0] == lines[1]);
          }
          ++journeys;
        }
      }
    }
  }
  CHECK(journeys > 100);  // every stdlib journey, the examples and the test journeys, four edits
}

TEST_CASE("a comment still moves every id under the old naming", "[steps]") {
  const std::string text = "journey w {\n  entry on x\n  send email \"a\"\n  wait 1d\n}\n";
  const auto before = compile_files({{"a.journey", text}}, je::StepNaming::Positions);
  const auto after = compile_files({{"a.journey", "# new\n" + text}}, je::StepNaming::Positions);
  CHECK(ids_of(before->journeys[0]) == std::vector<std::string>{"L3:3", "L4:3"});
  CHECK(ids_of(after->journeys[0]) == std::vector<std::string>{"L4:3", "L5:3"});
  CHECK(before->journeys[0].version != after->journeys[0].version);
  // The tree naming of the same text: other ids, and a comment changes none.
  const auto tree = compile_files({{"a.journey", "# new\n" + text}});
  CHECK(ids_of(tree->journeys[0]) == std::vector<std::string>{"1", "2"});
  CHECK(tree->journeys[0].version == compile_files({{"a.journey", text}})->journeys[0].version);
}

TEST_CASE("versions stored by the build before keep their hashes under the old naming", "[steps]") {
  // tests/data/legacy_naming/journey.db was written by that build (make.sh there): these are the
  // versions its runs hold.
  const fs::path path = fs::path(JOURNEY_TESTS_DIR) / "data/legacy_naming/journeys/legacy.journey";
  const auto old = compile_files({{path.string(), read_file(path)}}, je::StepNaming::Positions);
  REQUIRE(old);
  CHECK(old->find_journey("welcome")->version == "8418c2eec175a831");
  CHECK(old->find_journey("labelled")->version == "56036a0328d1900d");
  CHECK(ids_of(*old->find_journey("welcome"))[1] == "L6:3");
  const auto tree = compile_files({{path.string(), read_file(path)}});
  // Unlabelled steps get new ids, so a new version; a journey labelled throughout keeps its own.
  CHECK(tree->find_journey("welcome")->version != "8418c2eec175a831");
  CHECK(tree->find_journey("labelled")->version == "56036a0328d1900d");
}

TEST_CASE("the version leaves out the update policy", "[steps]") {
  const auto a = build("journey w {\n  entry on x\n  send email \"a\"\n}\n");
  const auto b = build("journey w {\n  entry on x\n  on update migrate\n  send email \"a\"\n}\n");
  CHECK(a->journeys[0].version == b->journeys[0].version);
  CHECK(b->journeys[0].on_update == je::UpdatePolicy::Migrate);
  CHECK(a->journeys[0].on_update == je::UpdatePolicy::Keep);
}

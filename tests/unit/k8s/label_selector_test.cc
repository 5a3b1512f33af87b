// Label selectors: every operator of the string and structured forms, Kubernetes
// matching semantics, and errors that name what is wrong and where.
#include "k8s/label_selector.h"

#include <doctest/doctest.h>

using namespace tapflow;

namespace {

LabelSelector mustParse(std::string_view text) {
  std::string error;
  auto selector = LabelSelector::parse(text, error);
  INFO("selector: ", std::string(text), " error: ", error);
  REQUIRE(selector.has_value());
  return *selector;
}

std::string parseError(std::string_view text) {
  std::string error;
  auto selector = LabelSelector::parse(text, error);
  CHECK_MESSAGE(!selector.has_value(), text);
  return error;
}

const LabelMap kWeb{{"app", "web"}, {"tier", "frontend"}, {"env", "prod"}, {"example.com/team", "payments"}};

}  // namespace

TEST_CASE("an empty selector matches every pod") {
  CHECK(mustParse("").matches(kWeb));
  CHECK(mustParse("   ").matches(LabelMap{}));
  CHECK(mustParse("").empty());
}

TEST_CASE("equality operators = and == match the exact value; != also matches an absent label") {
  CHECK(mustParse("app=web").matches(kWeb));
  CHECK(mustParse("app==web").matches(kWeb));
  CHECK_FALSE(mustParse("app=db").matches(kWeb));
  CHECK_FALSE(mustParse("missing=x").matches(kWeb));
  CHECK(mustParse("app!=db").matches(kWeb));
  CHECK_FALSE(mustParse("app!=web").matches(kWeb));
  CHECK(mustParse("missing!=x").matches(kWeb));
}

TEST_CASE("set operators in and notin; notin also matches an absent label") {
  CHECK(mustParse("env in (prod,staging)").matches(kWeb));
  CHECK_FALSE(mustParse("env in (dev, staging)").matches(kWeb));
  CHECK_FALSE(mustParse("missing in (x)").matches(kWeb));
  CHECK(mustParse("env notin (dev,staging)").matches(kWeb));
  CHECK_FALSE(mustParse("env notin (prod)").matches(kWeb));
  CHECK(mustParse("missing notin (x)").matches(kWeb));
}

TEST_CASE("a bare key requires the label, !key requires its absence") {
  CHECK(mustParse("app").matches(kWeb));
  CHECK_FALSE(mustParse("canary").matches(kWeb));
  CHECK(mustParse("!canary").matches(kWeb));
  CHECK_FALSE(mustParse("!app").matches(kWeb));
  CHECK(mustParse("! canary").matches(kWeb));
}

TEST_CASE("comma-separated requirements are ANDed, whitespace is free") {
  CHECK(mustParse("app=web,tier in (frontend),!canary,env").matches(kWeb));
  CHECK(mustParse("  app = web ,  tier  in(frontend , backend)  ").matches(kWeb));
  CHECK_FALSE(mustParse("app=web,tier=backend").matches(kWeb));
  CHECK(mustParse("example.com/team=payments").matches(kWeb));
}

TEST_CASE("empty values are valid label values, as in Kubernetes") {
  CHECK(mustParse("app=").matches(LabelMap{{"app", ""}}));
  CHECK_FALSE(mustParse("app=").matches(kWeb));
  CHECK(mustParse("app=,tier").matches(LabelMap{{"app", ""}, {"tier", "x"}}));
  CHECK(mustParse("x in (a,,b)").matches(LabelMap{{"x", ""}}));
  CHECK(mustParse("x in (a,)").matches(LabelMap{{"x", ""}}));
}

TEST_CASE("keywords in and notin are values when they stand in a value position") {
  CHECK(mustParse("mode=in").matches(LabelMap{{"mode", "in"}}));
  CHECK(mustParse("mode in (in,notin)").matches(LabelMap{{"mode", "notin"}}));
}

TEST_CASE("toString prints a canonical selector that parses back to the same") {
  auto s = mustParse("tier notin (b,a,a), app=web, !canary, env, x!=y, z in (q)");
  CHECK(s.toString() == "app=web,!canary,env,tier notin (a,b),x!=y,z in (q)");
  CHECK(mustParse(s.toString()).toString() == s.toString());
}

TEST_CASE("syntax errors say what was expected and at which offset") {
  CHECK(parseError("app in web") == "at offset 7: expected '(' after 'in', found 'web'");
  CHECK(parseError("app in (a,b") == "at offset 11: expected ')' to close the value list");
  CHECK(parseError("app in ()") == "at offset 7: the value list of 'in' must not be empty");
  CHECK(parseError("app notin (a b)") == "at offset 13: expected ',' or ')' in the value list, found 'b'");
  CHECK(parseError("app=web,") == "at offset 8: expected a label key, found end of selector");
  CHECK(parseError(",app") == "at offset 0: expected a label key, found ','");
  CHECK(parseError("app web") ==
        "at offset 4: expected '=', '==', '!=', 'in', 'notin', ',' or end after key 'app', found 'web'");
  CHECK(parseError("app=web tier=x") == "at offset 8: expected ',' or end of selector, found 'tier'");
  CHECK(parseError("app=(x)") == "at offset 4: expected a label value, found '('");
  CHECK(parseError("!app=web").find("at offset 4: expected ',' or end of selector") == 0);
  CHECK(parseError("a>5") == "at offset 1: operator '>' is not supported in label selectors here");
  CHECK(parseError("!") == "at offset 1: expected a label key, found end of selector");
}

TEST_CASE("label keys and values are validated as the API server does") {
  CHECK(validateLabelKey("app").empty());
  CHECK(validateLabelKey("app.kubernetes.io/name").empty());
  CHECK(validateLabelKey("a_b-c.d").empty());
  CHECK_FALSE(validateLabelKey("").empty());
  CHECK_FALSE(validateLabelKey("-app").empty());
  CHECK_FALSE(validateLabelKey("app-").empty());
  CHECK_FALSE(validateLabelKey("a/b/c").empty());
  CHECK_FALSE(validateLabelKey("/name").empty());
  CHECK_FALSE(validateLabelKey("Example.com/name").empty());  // prefix is lowercase DNS
  CHECK_FALSE(validateLabelKey("exa_mple.com/name").empty());
  CHECK_FALSE(validateLabelKey("example..com/name").empty());
  CHECK_FALSE(validateLabelKey("example.com/").empty());
  CHECK(validateLabelKey(std::string(63, 'a')).empty());
  CHECK_FALSE(validateLabelKey(std::string(64, 'a')).empty());
  CHECK(validateLabelKey(std::string(253, 'a').replace(63, 1, ".") + "/x").find("253") == std::string::npos);
  CHECK_FALSE(validateLabelKey(std::string(254, 'a') + "/x").empty());
  CHECK(validateLabelValue("").empty());
  CHECK(validateLabelValue("v1.2_3-x").empty());
  CHECK_FALSE(validateLabelValue("bad value").empty());
  CHECK_FALSE(validateLabelValue(std::string(64, 'v')).empty());
  CHECK_FALSE(validateLabelValue("x.").empty());

  CHECK(parseError("Bad/key=x").find("at offset 0: invalid label key 'Bad/key'") == 0);
  CHECK(parseError("app=" + std::string(64, 'v')).find("at offset 4: invalid label value") == 0);
  CHECK(parseError("app in (ok,-bad)").find("at offset 11: invalid label value '-bad'") == 0);
  CHECK(parseError(std::string(LabelSelector::kMaxTextBytes + 1, 'a')).find("longer than") != std::string::npos);
}

TEST_CASE("the structured form (matchLabels and matchExpressions) matches like the string form") {
  StructuredLabelSelector structured;
  structured.match_labels = {{"app", "web"}};
  structured.match_expressions = {{"env", "In", {"prod", "staging"}},
                                  {"tier", "NotIn", {"db"}},
                                  {"example.com/team", "Exists", {}},
                                  {"canary", "DoesNotExist", {}}};
  std::string error;
  auto s = LabelSelector::fromStructured(structured, error);
  REQUIRE_MESSAGE(s.has_value(), error);
  CHECK(s->matches(kWeb));
  CHECK(s->toString() == "app=web,!canary,env in (prod,staging),example.com/team,tier notin (db)");
  LabelMap other = kWeb;
  other["canary"] = "true";
  CHECK_FALSE(s->matches(other));
  CHECK(LabelSelector::fromStructured({}, error)->matches(LabelMap{}));
}

TEST_CASE("the structured form refuses bad operators, values and keys with the entry's index") {
  std::string error;
  CHECK_FALSE(LabelSelector::fromStructured({{}, {{"a", "Like", {"x"}}}}, error));
  CHECK(error == "matchExpressions[0]: unknown operator 'Like' (In, NotIn, Exists, DoesNotExist)");
  CHECK_FALSE(LabelSelector::fromStructured({{}, {{"a", "Exists", {}}, {"b", "In", {}}}}, error));
  CHECK(error == "matchExpressions[1]: operator In needs at least one value");
  CHECK_FALSE(LabelSelector::fromStructured({{}, {{"a", "DoesNotExist", {"x"}}}}, error));
  CHECK(error == "matchExpressions[0]: operator DoesNotExist takes no values");
  CHECK_FALSE(LabelSelector::fromStructured({{{"a", "bad value"}}, {}}, error));
  CHECK(error.find("matchLabels: invalid value 'bad value' of key 'a'") == 0);
  CHECK_FALSE(LabelSelector::fromStructured({{{"-a", "x"}}, {}}, error));
  CHECK(error.find("matchLabels: invalid key '-a'") == 0);
}

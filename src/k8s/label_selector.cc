// Label-selector parsing and matching, following k8s.io/apimachinery/pkg/labels
// (lexer, grammar, error cases) and its validation of keys and values, so a
// selector that works in kubectl works in tapflow and one kubectl refuses is refused.
#include "k8s/label_selector.h"

#include <algorithm>

namespace tapflow {

namespace {

constexpr size_t kMaxNameLength = 63;
constexpr size_t kMaxPrefixLength = 253;

bool isAlnum(char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9'); }
bool isLowerAlnum(char c) { return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9'); }

// ([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9], at most 63 characters.
std::string validateName(std::string_view name, std::string_view what) {
  if (name.empty()) return std::string(what) + " must not be empty";
  if (name.size() > kMaxNameLength)
    return std::string(what) + " must be no more than 63 characters (has " + std::to_string(name.size()) + ")";
  if (!isAlnum(name.front()) || !isAlnum(name.back()))
    return std::string(what) + " must start and end with an alphanumeric character";
  for (char c : name) {
    if (!isAlnum(c) && c != '-' && c != '_' && c != '.')
      return std::string(what) + " may contain only alphanumerics, '-', '_' and '.'";
  }
  return {};
}

// RFC 1123 subdomain: lowercase labels of [a-z0-9-] separated by dots.
std::string validatePrefix(std::string_view prefix) {
  if (prefix.empty()) return "key prefix must not be empty";
  if (prefix.size() > kMaxPrefixLength) return "key prefix must be no more than 253 characters";
  size_t start = 0;
  while (start <= prefix.size()) {
    size_t dot = prefix.find('.', start);
    std::string_view label = prefix.substr(start, dot == std::string_view::npos ? std::string_view::npos : dot - start);
    if (label.empty() || !isLowerAlnum(label.front()) || !isLowerAlnum(label.back()))
      return "key prefix must be a DNS subdomain (lowercase alphanumerics, '-' and '.')";
    for (char c : label) {
      if (!isLowerAlnum(c) && c != '-')
        return "key prefix must be a DNS subdomain (lowercase alphanumerics, '-' and '.')";
    }
    if (dot == std::string_view::npos) break;
    start = dot + 1;
  }
  return {};
}

// Tokens of the k8s selector lexer.
enum class Token {
  kEnd,
  kIdentifier,
  kIn,
  kNotIn,
  kEquals,
  kDoubleEquals,
  kNotEquals,
  kBang,
  kOpen,
  kClose,
  kComma,
  kGreater,
  kLess
};

bool isWhitespace(char c) { return c == ' ' || c == '\t' || c == '\r' || c == '\n'; }
bool isSpecial(char c) { return c == '!' || c == '=' || c == '(' || c == ')' || c == ',' || c == '>' || c == '<'; }

class Lexer {
 public:
  explicit Lexer(std::string_view text) : text_(text) {}

  // Reads the next token; `offset` is where it starts, `word` its text.
  Token next(size_t& offset, std::string_view& word) {
    while (pos_ < text_.size() && isWhitespace(text_[pos_])) ++pos_;
    offset = pos_;
    if (pos_ >= text_.size()) {
      word = {};
      return Token::kEnd;
    }
    char c = text_[pos_];
    if (isSpecial(c)) {
      size_t len = 1;
      Token t;
      switch (c) {
        case '!':
          if (pos_ + 1 < text_.size() && text_[pos_ + 1] == '=') {
            len = 2;
            t = Token::kNotEquals;
          } else {
            t = Token::kBang;
          }
          break;
        case '=':
          if (pos_ + 1 < text_.size() && text_[pos_ + 1] == '=') {
            len = 2;
            t = Token::kDoubleEquals;
          } else {
            t = Token::kEquals;
          }
          break;
        case '(':
          t = Token::kOpen;
          break;
        case ')':
          t = Token::kClose;
          break;
        case ',':
          t = Token::kComma;
          break;
        case '>':
          t = Token::kGreater;
          break;
        default:
          t = Token::kLess;
          break;
      }
      word = text_.substr(pos_, len);
      pos_ += len;
      return t;
    }
    size_t start = pos_;
    while (pos_ < text_.size() && !isWhitespace(text_[pos_]) && !isSpecial(text_[pos_])) ++pos_;
    word = text_.substr(start, pos_ - start);
    if (word == "in") return Token::kIn;
    if (word == "notin") return Token::kNotIn;
    return Token::kIdentifier;
  }

  // Looks at the next token without consuming it.
  Token peek() {
    size_t saved = pos_, offset;
    std::string_view word;
    Token t = next(offset, word);
    pos_ = saved;
    return t;
  }

 private:
  std::string_view text_;
  size_t pos_ = 0;
};

std::string describe(Token t, std::string_view word) {
  if (t == Token::kEnd) return "end of selector";
  // Built by appending: GCC 12 warns (-Wrestrict, a false positive) on "'" + std::string.
  std::string quoted = "'";
  quoted.append(word).push_back('\'');
  return quoted;
}

std::string at(size_t offset, const std::string& message) {
  return "at offset " + std::to_string(offset) + ": " + message;
}

void sortUnique(std::vector<std::string>& values) {
  std::sort(values.begin(), values.end());
  values.erase(std::unique(values.begin(), values.end()), values.end());
}

bool parseRequirement(Lexer& lexer, LabelRequirement& req, std::string& error) {
  size_t offset;
  std::string_view word;
  Token t = lexer.next(offset, word);
  bool negated = false;
  if (t == Token::kBang) {
    negated = true;
    t = lexer.next(offset, word);
  }
  if (t != Token::kIdentifier) {
    error = at(offset, "expected a label key, found " + describe(t, word));
    return false;
  }
  if (std::string invalid = validateLabelKey(word); !invalid.empty()) {
    error = at(offset, "invalid label key '" + std::string(word) + "': " + invalid);
    return false;
  }
  req.key = std::string(word);
  if (negated) {
    req.op = SelectorOp::kDoesNotExist;
    return true;
  }
  Token op = lexer.peek();
  if (op == Token::kEnd || op == Token::kComma) {
    req.op = SelectorOp::kExists;
    return true;
  }
  op = lexer.next(offset, word);
  switch (op) {
    case Token::kEquals:
    case Token::kDoubleEquals:
    case Token::kNotEquals: {
      req.op = op == Token::kNotEquals ? SelectorOp::kNotEquals : SelectorOp::kEquals;
      // An empty value (`a=`, `a=,b`) is a valid label value.
      Token v = lexer.peek();
      std::string_view value;
      if (v == Token::kIdentifier || v == Token::kIn || v == Token::kNotIn) {
        lexer.next(offset, value);
      } else if (v != Token::kEnd && v != Token::kComma) {
        lexer.next(offset, word);
        error = at(offset, "expected a label value, found " + describe(v, word));
        return false;
      }
      if (std::string invalid = validateLabelValue(value); !invalid.empty()) {
        error = at(offset, "invalid label value '" + std::string(value) + "': " + invalid);
        return false;
      }
      req.values = {std::string(value)};
      return true;
    }
    case Token::kIn:
    case Token::kNotIn: {
      req.op = op == Token::kIn ? SelectorOp::kIn : SelectorOp::kNotIn;
      const std::string op_word(word);
      Token open = lexer.next(offset, word);
      if (open != Token::kOpen) {
        error = at(offset, "expected '(' after '" + op_word + "', found " + describe(open, word));
        return false;
      }
      const size_t list_offset = offset;
      // values := value (',' value)* ; a value may be empty, as in k8s.
      bool expect_value = true;
      for (;;) {
        Token v = lexer.next(offset, word);
        if (v == Token::kClose) {
          if (expect_value && !req.values.empty()) req.values.emplace_back();  // `(a,)`
          break;
        }
        if (v == Token::kComma) {
          if (expect_value) req.values.emplace_back();  // `(,a)` or `(a,,b)`
          expect_value = true;
          continue;
        }
        if ((v == Token::kIdentifier || v == Token::kIn || v == Token::kNotIn) && expect_value) {
          if (std::string invalid = validateLabelValue(word); !invalid.empty()) {
            error = at(offset, "invalid label value '" + std::string(word) + "': " + invalid);
            return false;
          }
          req.values.emplace_back(word);
          expect_value = false;
          continue;
        }
        error = at(offset, v == Token::kEnd ? "expected ')' to close the value list"
                                            : "expected ',' or ')' in the value list, found " + describe(v, word));
        return false;
      }
      if (req.values.empty()) {
        error = at(list_offset, "the value list of '" + op_word + "' must not be empty");
        return false;
      }
      sortUnique(req.values);
      return true;
    }
    case Token::kGreater:
    case Token::kLess:
      error = at(offset, "operator '" + std::string(word) + "' is not supported in label selectors here");
      return false;
    default:
      error = at(offset, "expected '=', '==', '!=', 'in', 'notin', ',' or end after key '" + req.key + "', found " +
                             describe(op, word));
      return false;
  }
}

}  // namespace

const char* selectorOpName(SelectorOp op) {
  switch (op) {
    case SelectorOp::kEquals:
      return "=";
    case SelectorOp::kNotEquals:
      return "!=";
    case SelectorOp::kIn:
      return "in";
    case SelectorOp::kNotIn:
      return "notin";
    case SelectorOp::kExists:
      return "exists";
    case SelectorOp::kDoesNotExist:
      return "!";
  }
  return "?";
}

std::string validateLabelKey(std::string_view key) {
  size_t slash = key.find('/');
  if (slash == std::string_view::npos) return validateName(key, "key name");
  if (key.find('/', slash + 1) != std::string_view::npos) return "key may contain at most one '/'";
  if (std::string e = validatePrefix(key.substr(0, slash)); !e.empty()) return e;
  return validateName(key.substr(slash + 1), "key name");
}

std::string validateLabelValue(std::string_view value) {
  if (value.empty()) return {};
  return validateName(value, "value");
}

bool LabelRequirement::matches(const LabelMap& labels) const {
  auto it = labels.find(std::string_view(key));
  const bool present = it != labels.end();
  switch (op) {
    case SelectorOp::kExists:
      return present;
    case SelectorOp::kDoesNotExist:
      return !present;
    case SelectorOp::kEquals:
    case SelectorOp::kIn:
      return present && std::binary_search(values.begin(), values.end(), it->second);
    case SelectorOp::kNotEquals:
    case SelectorOp::kNotIn:
      return !present || !std::binary_search(values.begin(), values.end(), it->second);
  }
  return false;
}

std::optional<LabelSelector> LabelSelector::parse(std::string_view text, std::string& error) {
  if (text.size() > kMaxTextBytes) {
    error = "selector is longer than " + std::to_string(kMaxTextBytes) + " bytes";
    return std::nullopt;
  }
  LabelSelector selector;
  Lexer lexer(text);
  if (lexer.peek() == Token::kEnd) return selector;  // "" selects everything
  for (;;) {
    LabelRequirement req;
    if (!parseRequirement(lexer, req, error)) return std::nullopt;
    selector.requirements_.push_back(std::move(req));
    size_t offset;
    std::string_view word;
    Token t = lexer.next(offset, word);
    if (t == Token::kEnd) break;
    if (t != Token::kComma) {
      error = at(offset, "expected ',' or end of selector, found " + describe(t, word));
      return std::nullopt;
    }
  }
  std::stable_sort(selector.requirements_.begin(), selector.requirements_.end(),
                   [](const LabelRequirement& a, const LabelRequirement& b) { return a.key < b.key; });
  return selector;
}

std::optional<LabelSelector> LabelSelector::fromStructured(const StructuredLabelSelector& structured,
                                                           std::string& error) {
  LabelSelector selector;
  for (const auto& [key, value] : structured.match_labels) {
    if (std::string e = validateLabelKey(key); !e.empty()) {
      error = "matchLabels: invalid key '" + key + "': " + e;
      return std::nullopt;
    }
    if (std::string e = validateLabelValue(value); !e.empty()) {
      error = "matchLabels: invalid value '" + value + "' of key '" + key + "': " + e;
      return std::nullopt;
    }
    selector.requirements_.push_back({key, SelectorOp::kEquals, {value}});
  }
  for (size_t i = 0; i < structured.match_expressions.size(); ++i) {
    const auto& expr = structured.match_expressions[i];
    const std::string where = "matchExpressions[" + std::to_string(i) + "]: ";
    if (std::string e = validateLabelKey(expr.key); !e.empty()) {
      error = where + "invalid key '" + expr.key + "': " + e;
      return std::nullopt;
    }
    LabelRequirement req{expr.key, SelectorOp::kExists, expr.values};
    bool needs_values;
    if (expr.op == "In") {
      req.op = SelectorOp::kIn;
      needs_values = true;
    } else if (expr.op == "NotIn") {
      req.op = SelectorOp::kNotIn;
      needs_values = true;
    } else if (expr.op == "Exists") {
      req.op = SelectorOp::kExists;
      needs_values = false;
    } else if (expr.op == "DoesNotExist") {
      req.op = SelectorOp::kDoesNotExist;
      needs_values = false;
    } else {
      error = where + "unknown operator '" + expr.op + "' (In, NotIn, Exists, DoesNotExist)";
      return std::nullopt;
    }
    if (needs_values && req.values.empty()) {
      error = where + "operator " + expr.op + " needs at least one value";
      return std::nullopt;
    }
    if (!needs_values && !req.values.empty()) {
      error = where + "operator " + expr.op + " takes no values";
      return std::nullopt;
    }
    for (const auto& v : req.values) {
      if (std::string e = validateLabelValue(v); !e.empty()) {
        error = where + "invalid value '" + v + "': " + e;
        return std::nullopt;
      }
    }
    sortUnique(req.values);
    selector.requirements_.push_back(std::move(req));
  }
  std::stable_sort(selector.requirements_.begin(), selector.requirements_.end(),
                   [](const LabelRequirement& a, const LabelRequirement& b) { return a.key < b.key; });
  return selector;
}

bool LabelSelector::matches(const LabelMap& labels) const {
  for (const auto& req : requirements_) {
    if (!req.matches(labels)) return false;
  }
  return true;
}

std::string LabelSelector::toString() const {
  std::string out;
  for (const auto& req : requirements_) {
    if (!out.empty()) out += ',';
    switch (req.op) {
      case SelectorOp::kExists:
        out += req.key;
        break;
      case SelectorOp::kDoesNotExist:
        out += '!' + req.key;
        break;
      case SelectorOp::kEquals:
        out += req.key + '=' + req.values.front();
        break;
      case SelectorOp::kNotEquals:
        out += req.key + "!=" + req.values.front();
        break;
      case SelectorOp::kIn:
      case SelectorOp::kNotIn: {
        out += req.key + (req.op == SelectorOp::kIn ? " in (" : " notin (");
        for (size_t i = 0; i < req.values.size(); ++i) out += (i ? "," : "") + req.values[i];
        out += ')';
        break;
      }
    }
  }
  return out;
}

}  // namespace tapflow

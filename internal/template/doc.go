// Package template renders herald's payload, endpoint URL and header
// templates: a subset of Twig (the syntax loyalty-platform admins already
// write) whose output is always well-formed for its payload type, whatever
// the event data holds.
//
// # Syntax
//
// The syntax is Twig 3's, with Twig's meaning; docs/templates.md is the
// user-facing reference. Output {{ expr }}, tags {% … %}, comments {# … #};
// the newline right after %} and #} is dropped, - trims all whitespace on
// its side and ~ spaces and tabs (Lexer.php's rules). String literals go
// through PHP's stripcslashes, and "#{…}" interpolates. Expressions have
// dot paths and subscripts, array and hash literals, Twig 3.5's operators
// and precedence (including matches, b-and/b-or/b-xor, and -a ** b as
// -(a ** b), as Twig compiles it to PHP), tests, arrow functions as filter
// arguments, the functions in functions.go (date, max, min, range, cycle,
// attribute) and the filters in filters.go and filters_twig.go. Tags are
// if, for, set (also set … endset), apply, with, macro with import _self
// and from _self, and verbatim (tags.go). A missing variable renders
// empty; Template.Paths and Check report it.
//
// Values follow PHP: numbers print with PHP's float formatting (precision
// 14; json_encode the shortest exact form), integers beyond 64 bits are
// floats, strings in arithmetic count by their leading number, string
// functions refuse arrays and arithmetic refuses arrays and captured
// output, as PHP 8 does. The differential test (twig_diff_test.go)
// compares herald with real Twig on generated and realistic templates.
//
// # Escaping
//
// Escaping is decided at compile time for every {{ }} from the literal
// template text before it, the way html/template does it for HTML. The
// compiler runs a small lexer for the payload type over the literal text,
// following if/for the way the output will be produced:
//
//   - JSON: inside a string literal a value is JSON-string escaped (quotes,
//     backslash, control characters, U+2028/U+2029; & < > stay). Outside a
//     string it is in value position: numbers, booleans and null are
//     literals, a string that is a valid JSON number stays bare, any other
//     string is quoted, arrays and hashes are compact JSON with sorted keys,
//     and a missing value is null.
//   - XML: text and quoted attribute values escape & < > " ' (attributes
//     also tab, CR and LF, text CR), CDATA sections split "]]>", comments
//     never form "--"; an expression inside a tag name or a declaration is
//     refused.
//   - FORM: every value is form-encoded (space as +).
//   - URL: a value in the path or fragment is path-escaped ("/" included),
//     in the query it is query-escaped; a value in the scheme or host is
//     refused, so data can never choose where a request goes.
//   - HEADER and PLAIN: values as they are.
//
// Everywhere, invalid UTF-8 in data becomes U+FFFD, and characters XML
// forbids become U+FFFD in XML. Branches of an if must leave the output in
// the same lexical place, and a loop body must end where it started;
// otherwise the template is refused, because the escaping of a later value
// would depend on the data.
//
// Text the author wrote is trusted, as html/template trusts template text:
// a string literal, or conditionals and concatenations of literals, is
// written as it is, and the lexical state follows it (every possible text
// must end in the same state). The branches of a conditional are written
// each in its own way: literal text as it is, | raw unescaped, data
// escaped for the position. So "on": {{ c ? 'true' : 'false' }} and
// {{ loop.last ? "" : "," }} mean what they mean in Twig, while no data
// can change the structure. Output captured by set … endset, apply and
// macros is rendered unescaped and then written as a value.
//
// Filters that already escape produce typed strings that the matching
// context writes unchanged: json_encode's output stands bare in JSON value
// position, escape('html') in XML, escape('url') and url_encode in FORM and
// URL, escape('js') inside a JSON string. `| raw` as the last filter turns
// escaping off for one expression; it is the one way data can change the
// structure, so use it only on trusted values or json_encode.
//
// # Guarantees
//
// Render checks its output before returning it: JSON parses, XML is
// well-formed with one root, FORM parses with url.ParseQuery, a URL is an
// absolute http or https URL, a header value has no CR, LF or NUL. A
// template that fails is reported as an *Error at the template position
// that produced the offending byte. Source size, output size and evaluation
// work (loop iterations, filter calls, bytes produced) are bounded by
// Options, so a render never hangs; rendering never panics. A compiled
// Template is immutable and safe for concurrent use.
//
// # Deliberate differences from Twig
//
// Each is listed, with its reason, in docs/templates.md, and counted by
// the differential test:
//
//   - Data are escaped for their position (Twig with autoescape off writes
//     them raw): the payload is always well-formed.
//   - Arrays and hashes print as JSON instead of "Array".
//   - The date filter of null, a missing value, false or "" renders empty,
//     not the current time (sending "now" as a missing birth date would
//     be a silent data error); the date() function of null is now.
//   - Arithmetic on a non-numeric string counts it as 0 instead of failing.
//   - Date strings outside the documented formats are refused, where PHP's
//     parser reads almost any text.
//   - Hashes from data iterate in key order (JSON objects decoded into Go
//     maps have no order; hash literals keep their written order, and
//     sort, filter and batch keep PHP's keys, as in Twig).
//   - Invalid UTF-8 becomes U+FFFD; matches runs RE2 (no back references
//     or look-arounds).
//   - There are no includes, template inheritance, imports of other
//     templates, random or constant, and no named arguments.
package template

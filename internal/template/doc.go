// Package template renders herald's payload, endpoint URL and header
// templates: a subset of Twig (the syntax loyalty-platform admins already
// write) whose output is always well-formed for its payload type, whatever
// the event data holds.
//
// # Syntax
//
// Output {{ expr }}, tags {% … %}, comments {# … #} and whitespace control
// ({{- -}} {%- -%} {#- -#}) mean what they mean in Twig. Expressions have
// dot paths and subscripts, string, number, true/false/null, array and
// hash literals, the operators of Twig 3 with its precedence (~ ?? ?:
// a ? b : c, and, or, not, in, not in, starts with, ends with, == != < >
// <= >= .. + - * / // % **), tests (is defined, null, empty, even, odd, iterable, mapping,
// sequence, same as, divisible by) and the filters listed in filters.go.
// Tags are if/elseif/else, for (with else and loop.*), set, and verbatim.
// A missing variable renders empty; Template.Paths and Check report it.
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
// date() of null, a missing value or "" renders empty, not the current
// time. Arrays and hashes print as JSON instead of "Array". Hashes from
// data iterate in key order (JSON objects decoded into Go maps have no
// order). json_encode does not escape "/" or non-ASCII. Arithmetic on
// non-numeric strings counts them as 0 (PHP 7) rather than throwing. There
// are no functions, macros, includes or set blocks.
package template

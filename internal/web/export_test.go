package web

// EventSummary is eventSummary, for the tests.
var EventSummary = eventSummary
var Sentence = sentence

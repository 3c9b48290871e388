package main

import (
	"log/slog"
	"net/http"
	"net/http/pprof"
)

// serveDebug serves pprof on its own address, never on the public one.
func serveDebug(addr string, log *slog.Logger) {
	mux := http.NewServeMux()
	mux.HandleFunc("/debug/pprof/", pprof.Index)
	mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
	mux.HandleFunc("/debug/pprof/trace", pprof.Trace)
	log.Info("debug endpoints (pprof) listening", "addr", addr)
	if err := http.ListenAndServe(addr, mux); err != nil {
		log.Error("debug listener", "err", err)
	}
}

# herald's container image: one static binary in an empty (scratch) image,
# running as a non-root user, with the SQLite database on the /data volume.
#
# Nothing is pulled to build or to run it: the binary is built on the host
# and copied in. deploy/build-image.sh does it all (it needs Go and Docker):
#
#   deploy/build-image.sh herald:local
#
# which amounts to
#
#   ctx=$(mktemp -d)
#   CGO_ENABLED=0 go build -trimpath -o "$ctx/herald" ./cmd/herald
#   cp /etc/ssl/certs/ca-certificates.crt "$ctx/"   # to reach https receivers
#   mkdir "$ctx/data" "$ctx/tmp"                    # empty folders for /data and /tmp
#   docker build -t herald:local -f Dockerfile "$ctx"
#
# With network access, deploy/Dockerfile.build builds the binary in the
# golang image instead (same final stage):
#
#   docker build -t herald:local -f deploy/Dockerfile.build .
#
# Run it (the secret key that encrypts secrets at rest is created as
# /data/herald.db.key on first start unless HERALD_SECRET_KEY(_FILE) is set):
#
#   docker run -d --name herald -p 8080:8080 -v herald-data:/data herald:local
#   docker exec herald /herald apikey create --name platform
#
# The time zone database is compiled into the binary (time/tzdata).
FROM scratch
COPY ca-certificates.crt /etc/ssl/certs/ca-certificates.crt
COPY herald /herald
# Writable by herald's user: a scratch image has no mkdir or chown to run.
COPY --chown=65532:65532 data /data
COPY --chown=65532:65532 tmp /tmp
USER 65532:65532
ENV HERALD_DB=/data/herald.db \
    HERALD_ADDR=0.0.0.0:8080
VOLUME /data
EXPOSE 8080
HEALTHCHECK --interval=30s --timeout=5s --start-period=10s --retries=3 CMD ["/herald", "healthcheck"]
ENTRYPOINT ["/herald"]
CMD ["serve"]

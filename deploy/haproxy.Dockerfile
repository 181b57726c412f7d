# deploy/haproxy.Dockerfile - HAProxy from Debian 12's package with deploy/haproxy.cfg.
FROM debian:12-slim
RUN apt-get update \
 && apt-get install -y --no-install-recommends haproxy \
 && rm -rf /var/lib/apt/lists/*
COPY haproxy.cfg /etc/haproxy/haproxy.cfg
USER haproxy
EXPOSE 6001 6002
# -W: master-worker (reloads), -db: stay in the foreground and log to stderr.
CMD ["haproxy", "-W", "-db", "-f", "/etc/haproxy/haproxy.cfg"]

# pushgate: multi-stage build on Debian 12, Debian packages only, runs as a non-root user.
#   docker build -t pushgate .
#   docker run --rm -p 6001:6001 -p 6002:6002 pushgate                  # demo app
#   docker run --rm -p 6001:6001 -p 6002:6002 -v $PWD/pushgate.json:/etc/pushgate.json:ro \
#       pushgate --config /etc/pushgate.json
FROM debian:12-slim AS build
RUN apt-get update \
 && apt-get install -y --no-install-recommends build-essential cmake pkg-config \
      libwebsockets-dev libmicrohttpd-dev libsodium-dev libjson-c-dev libssl-dev libcurl4-openssl-dev \
      libhiredis-dev \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /src
COPY CMakeLists.txt ./
COPY crypto crypto
COPY auth auth
COPY gateway gateway
COPY console console
COPY tests/bench tests/bench
RUN cmake -S . -B build -DCMAKE_BUILD_TYPE=Release -DPG_TESTS=OFF \
 && cmake --build build -j"$(nproc)" --target pushgate \
 && strip build/pushgate

FROM debian:12-slim
RUN apt-get update \
 && apt-get install -y --no-install-recommends libwebsockets17 libmicrohttpd12 libsodium23 \
      libjson-c5 libssl3 libcurl4 libhiredis0.14 ca-certificates \
 && rm -rf /var/lib/apt/lists/* \
 && useradd --system --uid 10001 --no-create-home --shell /usr/sbin/nologin pushgate
COPY --from=build /src/build/pushgate /usr/local/bin/pushgate
USER pushgate
EXPOSE 6001 6002
ENV PUSHGATE_HOST=0.0.0.0
ENTRYPOINT ["/usr/local/bin/pushgate"]

# The amcast image: the `amcast` CLI (replica, clients, experiment, check, deploy, ...) on Node 20.
#
#   docker build -t amcast .
#   docker run --rm amcast experiment quickstart          # the simulator, inside the image
#   docker compose -f deploy/compose/compose.yaml up      # a 3-group crash-mode cluster (docs/deploy.md)
#
# NODE_IMAGE is any Debian-based Node 20 image (default: the official slim one). Behind a proxy
# that re-signs TLS, pass its CA for the install step: --secret id=ca,src=proxy-ca.pem
# (BuildKit: DOCKER_BUILDKIT=1 or docker buildx).
ARG NODE_IMAGE=node:20-bookworm-slim

# --- build: install with the lockfile, compile every package, keep the CLI's production tree ---
FROM ${NODE_IMAGE} AS build
ENV COREPACK_ENABLE_DOWNLOAD_PROMPT=0 TURBO_TELEMETRY_DISABLED=1
WORKDIR /src
COPY . .
RUN --mount=type=secret,id=ca \
    if [ -f /run/secrets/ca ]; then export NODE_EXTRA_CA_CERTS=/run/secrets/ca; fi && \
    corepack enable pnpm && \
    pnpm install --frozen-lockfile && \
    pnpm run build && \
    pnpm --filter @amcast/experiment deploy --prod --legacy /app && \
    cp -r experiments overlays /app/

# --- runtime: Node and the CLI's production files only, as an unprivileged user ---
FROM ${NODE_IMAGE}
# The uid the Kubernetes manifests run as (amcast deploy k8s: runAsUser 10001).
RUN groupadd --gid 10001 amcast && \
    useradd --uid 10001 --gid amcast --no-create-home --home-dir /nonexistent --shell /usr/sbin/nologin amcast && \
    mkdir -p /var/lib/amcast && chown amcast:amcast /var/lib/amcast && \
    printf '#!/bin/sh\nexec node --max-semi-space-size=32 /app/dist/cli.js "$@"\n' > /usr/local/bin/amcast && \
    chmod 0755 /usr/local/bin/amcast
COPY --from=build /app /app
# `amcast experiment` writes its results here (mount a directory to keep them).
RUN mkdir /app/results && chown amcast:amcast /app/results
ENV NODE_ENV=production
# Traces go here (a volume under compose, an emptyDir under Kubernetes).
VOLUME /var/lib/amcast
# amcast finds experiments/ and overlays/ from its working directory.
WORKDIR /app
USER 10001:10001
EXPOSE 7000 8080
ENTRYPOINT ["node", "--max-semi-space-size=32", "/app/dist/cli.js"]
CMD ["--help"]

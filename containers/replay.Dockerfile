# The replay image: the bundle's recorded Python environment, a Node.js
# runtime and nbrewind-engine, on a base image with python3 (+ venv).
# src/container/replay-image.ts prepares the build context and builds it:
#
#   requirements.txt        the recorded pins, name==version, one a line
#   wheels/                 one wheel per pin, made on the host: the build needs no network
#   install-python-env.sh   creates the venv from them (checks the Python version)
#   node                    the host's Node.js binary (Node 20+)
#   app/                    nbrewind-engine: package.json, bin, dist, engines, schemas,
#                           containers, and its production node_modules
#
# One stage: the wheels stay in a layer of the image (about a fifth of the
# venv's size), which costs less than a second stage whose venv (hundreds of
# MB) must be copied across and whose image lingers (measured with podman on
# 2 cores: 37 s and 885 MB more). RUN --mount would avoid both, but the
# classic builder that the engine API offers does not have it. Layers go from
# the slowest to build and least often changed (the venv) to the most often
# changed (nbrewind-engine itself), so an engine that caches layers rebuilds
# only what changed.
ARG BASE_IMAGE
FROM ${BASE_IMAGE}
ARG RECORDED_PYTHON
COPY requirements.txt install-python-env.sh /opt/nbrewind/
COPY wheels /opt/nbrewind/wheels
RUN sh /opt/nbrewind/install-python-env.sh "${RECORDED_PYTHON}"
COPY node /opt/nbrewind/node/bin/node
# The replay runs as uid 1000, never root: its work folder and HOME are its own;
# the bundle is mounted read-only at /replay/in.
RUN chmod 0755 /opt/nbrewind/node/bin/node \
 && mkdir -p /replay/in /replay/work /replay/home \
 && chown 1000:1000 /replay/work /replay/home \
 && (grep -q '^[^:]*:[^:]*:1000:' /etc/passwd || echo 'nbrewind:x:1000:1000:nbrewind replay:/replay/home:/bin/sh' >> /etc/passwd) \
 && (grep -q '^[^:]*:[^:]*:1000:' /etc/group || echo 'nbrewind:x:1000:' >> /etc/group)
COPY app /opt/nbrewind/app
ENV PATH=/opt/nbrewind/node/bin:/opt/nbrewind/venv/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
    NBREWIND_KERNEL_ENV=/opt/nbrewind/venv \
    HOME=/replay/home USER=nbrewind LOGNAME=nbrewind \
    PYTHONDONTWRITEBYTECODE=1
USER 1000:1000
WORKDIR /replay/work
ENTRYPOINT ["/opt/nbrewind/node/bin/node", "/opt/nbrewind/app/dist/container/inside-entry.js"]

# vulnsweep in a container: `docker build -t vulnsweep .`, then
#   docker run --rm -v "$PWD:/src:ro" vulnsweep -R /src
# Keep the cache (and the offline database from `db sync`) between runs with a volume:
#   docker run --rm -v vulnsweep-cache:/cache -v "$PWD:/src:ro" vulnsweep --offline -R /src
#
# The base image is pinned by digest, so a rebuild gets the same bytes. To move to the
# newest python:3.12-slim, resolve its digest and pass it (or write it below):
#   docker buildx imagetools inspect python:3.12-slim --format '{{json .Manifest.Digest}}'
#   docker build --build-arg PYTHON_IMAGE=python:3.12-slim@sha256:<digest> -t vulnsweep .
ARG PYTHON_IMAGE=python:3.12-slim@sha256:78387bc3881b8273120a12ebe6c1ab22b018ccc2c9adf565ae1ac9b536e184ea
FROM ${PYTHON_IMAGE}

# Bytecode is compiled once at build time (below); the non-root user cannot write
# site-packages at run time, so there is nothing to switch off.
ENV PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    VULNSWEEP_CACHE_DIR=/cache

COPY pyproject.toml README.md /build/
COPY src /build/src
RUN pip install /build \
    && python -m compileall -q /usr/local/lib/python3.12/site-packages/vulnsweep \
    && rm -rf /build \
    && useradd --create-home --uid 10001 vulnsweep \
    && mkdir /cache \
    && chown 10001 /cache

USER 10001
WORKDIR /src
VOLUME ["/cache"]
ENTRYPOINT ["vulnsweep"]
CMD ["--help"]

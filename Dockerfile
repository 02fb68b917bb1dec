# vulnsweep in a container: `docker build -t vulnsweep .`, then
#   docker run --rm -v "$PWD:/src:ro" vulnsweep -R /src
# Keep the cache (and the offline database from `db sync`) between runs with a volume:
#   docker run --rm -v vulnsweep-cache:/cache -v "$PWD:/src:ro" vulnsweep --offline -R /src
FROM python:3.12-slim

ENV PYTHONDONTWRITEBYTECODE=0 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    VULNSWEEP_CACHE_DIR=/cache

COPY pyproject.toml README.md /build/
COPY src /build/src
RUN pip install /build \
    && python -m compileall -q /usr/local/lib/python3.12/site-packages/vulnsweep \
    && rm -rf /build \
    && useradd --create-home --uid 10001 vulnsweep \
    && mkdir /cache \
    && chown vulnsweep /cache

USER vulnsweep
WORKDIR /src
VOLUME ["/cache"]
ENTRYPOINT ["vulnsweep"]
CMD ["--help"]

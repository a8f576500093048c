# The web and worker image of docker-compose.yml.
FROM node:20-bookworm-slim AS viewer
WORKDIR /build
COPY package.json package-lock.json vite.config.* ./
COPY frontend ./frontend
RUN npm ci --no-audit --no-fund && npm run build

FROM python:3.11-slim-bookworm
ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1
WORKDIR /app
COPY requirements.txt ./
RUN pip install --no-cache-dir -r requirements.txt
COPY . .
COPY --from=viewer /build/static/reader ./static/reader
# collectstatic runs with production storage (hashed names) but throwaway secrets: the
# deployment's own secrets arrive only at run time through .env.
RUN DJANGO_ENV=production ALLOWED_HOSTS=build \
    SECRET_KEY=build-only-$(python -c "import secrets; print(secrets.token_urlsafe(48))") \
    PSEUDONYM_PEPPER=build-only-pepper-not-used-at-run-time-0000 \
    DICOM_UID_SECRET=build-only-uid-secret-not-used-at-run-time-00 \
    python manage.py collectstatic --noinput \
    && useradd --system --home /app iim && mkdir -p /data/media && chown -R iim /data /app
USER iim
EXPOSE 8000

FROM python:3.11-slim
ENV PYTHONUNBUFFERED=1 PIP_NO_CACHE_DIR=1
WORKDIR /app
COPY . .
RUN pip install -e . && useradd --system crm && mkdir -p /app/var /app/staticfiles && chown crm /app/var /app/staticfiles
USER crm
EXPOSE 8000

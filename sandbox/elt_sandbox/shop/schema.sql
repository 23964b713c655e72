-- The shop database, exactly as in shared/seeds/ingestion-module-postgres-stripe-csv.md.
DROP TABLE IF EXISTS order_items, orders, products, customers CASCADE;

CREATE TABLE customers (
    customer_id   SERIAL PRIMARY KEY,
    email         VARCHAR(255) NOT NULL UNIQUE,
    first_name    VARCHAR(100),
    last_name     VARCHAR(100),
    phone         VARCHAR(50),         -- 30% NULL
    address       VARCHAR(500),
    city          VARCHAR(100),
    state         VARCHAR(100),        -- Mixed: "CA" and "California"
    country       VARCHAR(100) DEFAULT 'US',
    zip_code      VARCHAR(20),
    created_at    TIMESTAMP DEFAULT NOW(),
    updated_at    TIMESTAMP DEFAULT NOW()
);

CREATE TABLE products (
    product_id    SERIAL PRIMARY KEY,
    name          VARCHAR(255) NOT NULL,
    category      VARCHAR(100),
    subcategory   VARCHAR(100),
    price         NUMERIC(10,2) NOT NULL,
    cost          NUMERIC(10,2),        -- Some NULL, some negative (bugs)
    weight_kg     NUMERIC(8,2),
    is_active     BOOLEAN DEFAULT TRUE,
    created_at    TIMESTAMP DEFAULT NOW(),
    updated_at    TIMESTAMP DEFAULT NOW()
);

CREATE TABLE orders (
    order_id      SERIAL PRIMARY KEY,
    customer_id   INTEGER REFERENCES customers(customer_id),
    order_date    TIMESTAMP NOT NULL,
    status        VARCHAR(50) NOT NULL, -- completed, shipped, cancelled, pending_review
    total_amount  NUMERIC(12,2) NOT NULL,
    shipping_address VARCHAR(500),
    shipping_city VARCHAR(100),
    shipping_state VARCHAR(100),
    shipping_country VARCHAR(100),
    shipping_zip  VARCHAR(20),
    created_at    TIMESTAMP DEFAULT NOW(),
    updated_at    TIMESTAMP DEFAULT NOW()
);

CREATE TABLE order_items (
    order_item_id SERIAL PRIMARY KEY,
    order_id      INTEGER REFERENCES orders(order_id),
    product_id    INTEGER REFERENCES products(product_id),
    quantity      INTEGER NOT NULL,
    unit_price    NUMERIC(10,2) NOT NULL,
    discount_pct  NUMERIC(5,2) DEFAULT 0,
    line_total    NUMERIC(12,2) NOT NULL,
    created_at    TIMESTAMP DEFAULT NOW()
);

-- Index for incremental extraction (query by updated_at)
CREATE INDEX idx_orders_updated ON orders(updated_at);
CREATE INDEX idx_customers_updated ON customers(updated_at);
CREATE INDEX idx_products_updated ON products(updated_at);

"""Billing: plans and their limits, Stripe subscriptions bought through Checkout and managed in
the customer portal, and the webhook that keeps each user's subscription as Stripe says."""
